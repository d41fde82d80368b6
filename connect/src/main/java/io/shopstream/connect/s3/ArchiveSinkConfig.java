package io.shopstream.connect.s3;

import java.util.Map;
import org.apache.kafka.common.config.AbstractConfig;
import org.apache.kafka.common.config.ConfigDef;
import org.apache.kafka.common.config.ConfigDef.Importance;
import org.apache.kafka.common.config.ConfigDef.Type;

/**
 * Connector properties. The same keys come from conf/connect/*.json for the local standalone worker
 * and for MSK Connect (Terraform renders them from those files); only {@code aws.s3.endpoint} is
 * local-only (conf/connect/local.json).
 */
public final class ArchiveSinkConfig extends AbstractConfig {
    public static final String BUCKET = "aws.s3.bucket.name";
    public static final String REGION = "aws.s3.region";
    public static final String ENDPOINT = "aws.s3.endpoint";
    public static final String PREFIX = "aws.s3.prefix";
    public static final String PART_SIZE = "aws.s3.part.size.bytes";
    public static final String COMPRESSION = "file.compression.type";
    public static final String FLUSH_SIZE = "flush.size";
    public static final String FLUSH_INTERVAL_MS = "flush.interval.ms";
    public static final String EARLIEST = "event.time.earliest";
    public static final String MAX_FUTURE_SKEW = "event.time.max.future.skew.seconds";

    /** S3's smallest multipart part (except the last one). */
    static final int MIN_PART_SIZE = 5 * 1024 * 1024;

    public static final ConfigDef CONFIG_DEF = new ConfigDef()
            .define(BUCKET, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "Bucket the archive objects are written to.")
            .define(REGION, Type.STRING, ConfigDef.NO_DEFAULT_VALUE, new ConfigDef.NonEmptyString(),
                    Importance.HIGH, "AWS region of the bucket.")
            .define(ENDPOINT, Type.STRING, "", Importance.LOW,
                    "Optional S3 API endpoint (e.g. a local S3 API on 127.0.0.1); when set, path-style"
                            + " addressing is used. Empty on AWS.")
            .define(PREFIX, Type.STRING, "", Importance.MEDIUM,
                    "Key prefix before <topic>/dt=YYYY-MM-DD/hh=HH/ (empty: keys start with the topic).")
            .define(PART_SIZE, Type.INT, 8 * 1024 * 1024, ConfigDef.Range.atLeast(MIN_PART_SIZE),
                    Importance.LOW, "Objects larger than this are uploaded in parts of this size (multipart).")
            .define(COMPRESSION, Type.STRING, "none", ConfigDef.ValidString.in("none", "gzip"),
                    Importance.MEDIUM, "none: JSON lines; gzip: gzip-compressed JSON lines, key suffix .gz.")
            .define(FLUSH_SIZE, Type.INT, 10_000, ConfigDef.Range.atLeast(1), Importance.MEDIUM,
                    "Records in one (partition, hour) buffer that make the task upload it at once (in the"
                            + " background); the hour goes on in a new buffer named by its own first offset.")
            .define(FLUSH_INTERVAL_MS, Type.LONG, 60_000L, ConfigDef.Range.atLeast(0), Importance.MEDIUM,
                    "Age of the oldest buffered record that makes the task ask for a flush (0: only the"
                            + " worker's offset.flush.interval.ms flushes).")
            .define(EARLIEST, Type.STRING, "", (name, value) -> {
                if (value != null && !((String) value).isEmpty()) {
                    try {
                        EventTime.of((String) value, -1);
                    } catch (InvalidEventException e) {
                        throw new org.apache.kafka.common.config.ConfigException(name, value, e.getMessage());
                    }
                }
            }, Importance.MEDIUM, "The contract's earliest event time (a created_at timestamp); earlier events"
                    + " are invalid. Empty: no lower bound.")
            .define(MAX_FUTURE_SKEW, Type.LONG, -1L, Importance.MEDIUM, "The contract's allowed clock skew:"
                    + " created_at may lie at most this many seconds after the ingest time (the record's Kafka"
                    + " timestamp, capped at the task's clock). Negative: no upper bound.");

    public ArchiveSinkConfig(Map<String, String> props) {
        super(CONFIG_DEF, props);
    }

    public String bucket() {
        return getString(BUCKET);
    }

    public String region() {
        return getString(REGION);
    }

    public String endpoint() {
        return getString(ENDPOINT).trim();
    }

    public String prefix() {
        return getString(PREFIX);
    }

    public int partSize() {
        return getInt(PART_SIZE);
    }

    public boolean gzip() {
        return "gzip".equals(getString(COMPRESSION));
    }

    public int flushSize() {
        return getInt(FLUSH_SIZE);
    }

    public long flushIntervalMs() {
        return getLong(FLUSH_INTERVAL_MS);
    }

    /** The contract's timestamp rule with the configured event-time range. */
    public EventTime eventTime() {
        return EventTime.of(getString(EARLIEST), getLong(MAX_FUTURE_SKEW));
    }
}
