/*
 * Runs Neo4j Community in this JVM with the Bolt connector, for the ITSM service.
 *
 * Arguments: HOME HOST PORT PAGECACHE
 * Environment: ITSM_NEO4J_PASSWORD, the password of user neo4j. Required, and authentication is
 * switched on, when HOST is not a loopback address; optional on loopback (auth off without it).
 *
 * Prints "ITSM-NEO4J READY bolt://HOST:PORT" once Bolt accepts connections, then runs until the
 * process is terminated; a shutdown hook closes the store cleanly.
 */

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Map;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;

public final class Launcher {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: Launcher HOME HOST PORT PAGECACHE");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        String host = args[1];
        int port = Integer.parseInt(args[2]);
        String pagecache = args[3];
        String password = System.getenv("ITSM_NEO4J_PASSWORD");
        boolean loopback = InetAddress.getByName(host).isLoopbackAddress();
        boolean auth = !loopback || (password != null && !password.isEmpty());
        if (auth && (password == null || password.length() < 8)) {
            System.err.println("Neo4j would listen on " + host + ", beyond loopback: set "
                    + "NEO4J_PASSWORD (8 characters or more) so that authentication is on.");
            System.exit(2);
        }

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(HttpConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, auth)
                .setConfig(GraphDatabaseSettings.pagecache_memory, parseBytes(pagecache))
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown, "neo4j-shutdown"));

        if (auth) {
            GraphDatabaseService system = dbms.database("system");
            system.executeTransactionally(
                    "ALTER USER neo4j IF EXISTS SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        }
        dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).executeTransactionally("RETURN 1");
        System.out.println("ITSM-NEO4J READY bolt://" + host + ":" + port);
        System.out.flush();
        Thread.currentThread().join();
    }

    private static long parseBytes(String text) {
        String t = text.trim().toLowerCase();
        long factor = 1;
        if (t.endsWith("g")) { factor = 1L << 30; t = t.substring(0, t.length() - 1); }
        else if (t.endsWith("m")) { factor = 1L << 20; t = t.substring(0, t.length() - 1); }
        else if (t.endsWith("k")) { factor = 1L << 10; t = t.substring(0, t.length() - 1); }
        return Long.parseLong(t) * factor;
    }
}
