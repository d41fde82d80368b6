package io.shopstream.connect.s3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.zip.GZIPOutputStream;

/**
 * The original bytes of one (topic, partition, event-time hour) since the last flush, one record
 * per line. Named by the offset of its first record: a flush retried from the same committed
 * offset meets the same first record, so it writes the same key.
 */
final class HourBuffer {
    final String topic;
    final int partition;
    final long hourStartMillis;
    final long firstOffset;
    final long openedNanos;
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(8192);
    private int records;

    HourBuffer(String topic, int partition, long hourStartMillis, long firstOffset, long openedNanos) {
        this.topic = topic;
        this.partition = partition;
        this.hourStartMillis = hourStartMillis;
        this.firstOffset = firstOffset;
        this.openedNanos = openedNanos;
    }

    void append(byte[] value) {
        bytes.write(value, 0, value.length);
        bytes.write('\n');
        records++;
    }

    int records() {
        return records;
    }

    /** {@code <prefix><topic>/dt=YYYY-MM-DD/hh=HH/<topic>-<partition>-<first offset>[.gz]}. */
    String key(String prefix, boolean gzip) {
        return key(prefix, topic, partition, hourStartMillis, firstOffset, gzip);
    }

    static String key(String prefix, String topic, int partition, long hourStartMillis, long firstOffset,
            boolean gzip) {
        LocalDateTime h = LocalDateTime.ofInstant(Instant.ofEpochMilli(hourStartMillis), ZoneOffset.UTC);
        return String.format("%s%s/dt=%04d-%02d-%02d/hh=%02d/%s-%d-%d%s", prefix, topic, h.getYear(),
                h.getMonthValue(), h.getDayOfMonth(), h.getHour(), topic, partition, firstOffset,
                gzip ? ".gz" : "");
    }

    /** The object's body: the records' bytes, each followed by a newline, gzip-compressed if asked. */
    byte[] body(boolean gzip) {
        if (!gzip) {
            return bytes.toByteArray();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(1024, bytes.size() / 4));
        try (GZIPOutputStream gz = new GZIPOutputStream(out, 64 * 1024)) {
            bytes.writeTo(gz);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in-memory streams do not fail
        }
        return out.toByteArray();
    }
}
