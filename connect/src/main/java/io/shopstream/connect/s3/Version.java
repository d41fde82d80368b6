package io.shopstream.connect.s3;

/** The plugin's version, reported by the connector and the task (kept equal to connect/pom.xml). */
final class Version {
    static final String VERSION = "1.0.0";

    private Version() {}
}
