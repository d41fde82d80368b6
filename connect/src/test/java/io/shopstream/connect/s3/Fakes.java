package io.shopstream.connect.s3;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.sink.ErrantRecordReporter;
import org.apache.kafka.connect.sink.SinkRecord;
import org.apache.kafka.connect.sink.SinkTaskContext;

/** In-memory stand-ins for the worker's context, its dead-letter reporter and S3. */
final class Fakes {
    private Fakes() {}

    static final String TOPIC = "shopstream.orders";

    static Map<String, String> props() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put(ArchiveSinkConfig.BUCKET, "archive");
        p.put(ArchiveSinkConfig.REGION, "eu-west-1");
        p.put(ArchiveSinkConfig.FLUSH_INTERVAL_MS, "0");
        return p;
    }

    static byte[] event(String id, String createdAt) {
        // Key order, spacing and number spelling are kept as produced: the archive must not touch them.
        return ("{\"event_id\":\"" + id + "\",  \"price\": 1.10, \"big\": 123456789012345678901,"
                + " \"created_at\":\"" + createdAt + "\"}").getBytes(StandardCharsets.UTF_8);
    }

    static SinkRecord record(int partition, long offset, byte[] value) {
        return new SinkRecord(TOPIC, partition, null, null, null, value, offset);
    }

    /** Objects by key; optionally fails the n-th put (1-based) to simulate an S3 outage mid-flush. */
    static final class MemoryS3 implements Uploader {
        final Map<String, byte[]> objects = new LinkedHashMap<>();
        final List<String> puts = new ArrayList<>();
        int failOnPut = -1;

        @Override
        public synchronized void put(String key, byte[] body, String contentType) {
            if (puts.size() + 1 == failOnPut) {
                failOnPut = -1;
                throw new IllegalStateException("S3 unavailable");
            }
            puts.add(key);
            objects.put(key, body.clone());
        }

        @Override
        public void close() {}

        synchronized List<String> lines() {
            List<String> out = new ArrayList<>();
            for (byte[] body : objects.values()) {
                for (String line : new String(body, StandardCharsets.UTF_8).split("\n")) {
                    out.add(line);
                }
            }
            return out;
        }
    }

    static final class Reporter implements ErrantRecordReporter {
        final List<SinkRecord> reported = new ArrayList<>();
        final List<Throwable> errors = new ArrayList<>();

        @Override
        public Future<Void> report(SinkRecord record, Throwable error) {
            reported.add(record);
            errors.add(error);
            return CompletableFuture.completedFuture(null);
        }
    }

    static class Context implements SinkTaskContext {
        final ErrantRecordReporter reporter;
        int commitRequests;

        Context(ErrantRecordReporter reporter) {
            this.reporter = reporter;
        }

        @Override
        public ErrantRecordReporter errantRecordReporter() {
            return reporter;
        }

        @Override
        public Map<String, String> configs() {
            return props();
        }

        @Override
        public void offset(Map<TopicPartition, Long> offsets) {}

        @Override
        public void offset(TopicPartition tp, long offset) {}

        @Override
        public void timeout(long timeoutMs) {}

        @Override
        public Set<TopicPartition> assignment() {
            return Collections.emptySet();
        }

        @Override
        public void pause(TopicPartition... partitions) {}

        @Override
        public void resume(TopicPartition... partitions) {}

        @Override
        public void requestCommit() {
            commitRequests++;
        }
    }

    /** A worker older than Kafka 2.6: the interface method does not exist there. */
    static final class OldWorkerContext extends Context {
        OldWorkerContext() {
            super(null);
        }

        @Override
        public ErrantRecordReporter errantRecordReporter() {
            throw new NoSuchMethodError("SinkTaskContext.errantRecordReporter()");
        }
    }
}
