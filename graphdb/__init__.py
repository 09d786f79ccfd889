"""Neo4j access: the driver, the one write path, migrations, Cypher per record type."""
