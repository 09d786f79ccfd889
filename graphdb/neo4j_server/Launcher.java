/*
 * The project's own Neo4j Community: the DBMS in this JVM with only the Bolt connector on.
 *
 * Usage:
 *   java [JVM flags] -cp CLASSES:LIB/* Launcher HOME HOST PORT PAGECACHE
 *
 *   HOME       Neo4j home; the store lives in HOME/data, Neo4j's own logs in HOME/logs
 *   HOST PORT  Bolt listen address (HTTP and HTTPS connectors are off)
 *   PAGECACHE  page cache size: bytes, or a number with k, m or g (e.g. 256m)
 *
 *   -Ditsm.neo4j.auth=on|off   authentication; default: on when a password is given
 *   ITSM_NEO4J_PASSWORD        (environment, so that it never shows in `ps`) password of user
 *                              neo4j, set at every start when authentication is on
 *
 * Authentication must be on, with a password, when HOST is not a loopback address: otherwise the
 * launcher refuses to start (exit code 2). Once Bolt accepts connections it prints exactly one line
 * "ITSM-NEO4J READY bolt://HOST:PORT" to stdout, then runs until SIGTERM / SIGINT, when a shutdown
 * hook closes the DBMS cleanly. Neo4j's user log goes to stdout, errors to stderr.
 */

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.Level;
import org.neo4j.logging.log4j.Log4jLogProvider;

public final class Launcher {
    static final String READY = "ITSM-NEO4J READY";
    static final int MIN_PASSWORD_LENGTH = 8; // Neo4j's dbms.security.auth_minimum_password_length

    public static void main(String[] args) {
        if (args.length != 4) {
            fail(2, "usage: Launcher HOME HOST PORT PAGECACHE");
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        String host = args[1];
        int port = parsePort(args[2]);
        long pagecache = parseBytes(args[3]);
        String password = System.getenv("ITSM_NEO4J_PASSWORD");
        boolean hasPassword = password != null && !password.isEmpty();
        boolean auth = parseAuth(System.getProperty("itsm.neo4j.auth"), hasPassword);

        if (!auth && !isLoopback(host)) {
            fail(2, "refusing to listen on " + host + " without authentication: it is not a loopback"
                    + " address; give a password (NEO4J_PASSWORD) so that authentication is on");
        }
        if (auth && !hasPassword) {
            fail(2, "authentication is on but no password was given (NEO4J_PASSWORD)");
        }
        if (auth && password.length() < MIN_PASSWORD_LENGTH) {
            fail(2, "the password (NEO4J_PASSWORD) needs " + MIN_PASSWORD_LENGTH + " characters or more");
        }

        Log4jLogProvider userLog = new Log4jLogProvider(System.out, Level.INFO);
        DatabaseManagementService dbms;
        try {
            dbms = new DatabaseManagementServiceBuilder(home)
                    .setUserLogProvider(userLog)
                    .setConfig(BoltConnector.enabled, true)
                    .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                    .setConfig(HttpConnector.enabled, false)
                    .setConfig(HttpsConnector.enabled, false)
                    .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                    .setConfig(GraphDatabaseSettings.pagecache_memory, pagecache)
                    .setConfig(GraphDatabaseSettings.udc_enabled, false)
                    // The databases are closed before the Bolt server; its two 5 s waits for idle
                    // connections and threads would only make every stop 10 s longer.
                    .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofSeconds(1))
                    .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofSeconds(1))
                    .build();
        } catch (Throwable e) { // an Error too: Neo4j's threads would keep a broken JVM alive
            e.printStackTrace();
            fail(1, "Neo4j did not start: " + e);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean shutDown = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (shutDown.compareAndSet(false, true)) {
                System.out.println("ITSM-NEO4J stopping");
                System.out.flush();
                try {
                    dbms.shutdown();
                    System.out.println("ITSM-NEO4J stopped");
                } catch (RuntimeException e) {
                    e.printStackTrace();
                } finally {
                    userLog.close();
                    System.out.flush();
                    stopped.countDown();
                }
            }
        }, "itsm-neo4j-shutdown"));

        try {
            if (auth) {
                setPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
            }
            GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
            if (!db.isAvailable(TimeUnit.MINUTES.toMillis(2))) {
                throw new IllegalStateException("database " + db.databaseName() + " is not available");
            }
            db.executeTransactionally("RETURN 1");
            awaitBolt(host, port, TimeUnit.MINUTES.toMillis(2));
        } catch (Throwable e) {
            e.printStackTrace();
            fail(1, "Neo4j did not become ready: " + e);
        }

        System.out.println(READY + " bolt://" + uriHost(host) + ":" + port);
        System.out.flush();
        try {
            stopped.await(); // until SIGTERM / SIGINT runs the shutdown hook
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Neo4j refuses a new password equal to the current one; a restart with the same one is fine. */
    private static void setPassword(GraphDatabaseService system, String password) {
        try {
            system.executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            String message = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
            if (!(message.contains("old password") && message.contains("same"))) {
                throw e;
            }
        }
    }

    private static void awaitBolt(String host, int port, long timeoutMillis) throws IOException {
        String target = isWildcard(host) ? "127.0.0.1" : host;
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (true) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(target, port), 1000);
                return;
            } catch (IOException e) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IOException("Bolt does not accept connections on " + target + ":" + port, e);
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", interrupted);
                }
            }
        }
    }

    private static boolean isWildcard(String host) {
        return host.equals("0.0.0.0") || host.equals("::") || host.equals("[::]");
    }

    /** Every address the name stands for is a loopback one (a wildcard address is not). */
    private static boolean isLoopback(String host) {
        try {
            InetAddress[] addresses = InetAddress.getAllByName(host);
            for (InetAddress address : addresses) {
                if (!address.isLoopbackAddress()) {
                    return false;
                }
            }
            return addresses.length > 0;
        } catch (IOException e) {
            fail(2, "cannot resolve the listen host " + host + ": " + e.getMessage());
            return false;
        }
    }

    private static String uriHost(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    private static boolean parseAuth(String value, boolean hasPassword) {
        if (value == null || value.isBlank()) {
            return hasPassword;
        }
        switch (value.trim().toLowerCase(Locale.ROOT)) {
            case "on": case "true": case "yes": case "1":
                return true;
            case "off": case "false": case "no": case "0":
                return false;
            default:
                fail(2, "itsm.neo4j.auth must be on or off, not " + value);
                return false;
        }
    }

    private static int parsePort(String text) {
        try {
            int port = Integer.parseInt(text.trim());
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        fail(2, "PORT must be a number from 1 to 65535, not " + text);
        return -1;
    }

    private static long parseBytes(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long factor = 1;
        if (t.endsWith("b")) {
            t = t.substring(0, t.length() - 1);
        }
        if (t.endsWith("k")) {
            factor = 1L << 10;
        } else if (t.endsWith("m")) {
            factor = 1L << 20;
        } else if (t.endsWith("g")) {
            factor = 1L << 30;
        }
        if (factor != 1) {
            t = t.substring(0, t.length() - 1);
        }
        try {
            long value = Long.parseLong(t.trim());
            if (value > 0) {
                return value * factor;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        fail(2, "PAGECACHE must be a size such as 256m or 1g, not " + text);
        return -1;
    }

    private static void fail(int code, String message) {
        System.err.println("ITSM-NEO4J ERROR " + message);
        System.err.flush();
        System.exit(code);
    }
}
