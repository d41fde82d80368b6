package io.shopstream.connect.s3;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.Arrays;
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
    /** The lines, unsynchronized (one task thread appends; the upload reads after the last append). */
    private byte[] bytes = new byte[8192];
    private int size;
    private int records;

    HourBuffer(String topic, int partition, long hourStartMillis, long firstOffset, long openedNanos) {
        this.topic = topic;
        this.partition = partition;
        this.hourStartMillis = hourStartMillis;
        this.firstOffset = firstOffset;
        this.openedNanos = openedNanos;
    }

    void append(byte[] value) {
        int need = size + value.length + 1;
        if (need > bytes.length) {
            bytes = Arrays.copyOf(bytes, Math.max(need, bytes.length * 2));
        }
        System.arraycopy(value, 0, bytes, size, value.length);
        bytes[need - 1] = '\n';
        size = need;
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
            return Arrays.copyOf(bytes, size);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(1024, size / 4));
        try (GZIPOutputStream gz = new GZIPOutputStream(out, 64 * 1024)) {
            gz.write(bytes, 0, size);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in-memory streams do not fail
        }
        return out.toByteArray();
    }
}
