package io.shopstream.connect.s3;

import static io.shopstream.connect.s3.Fakes.TOPIC;
import static io.shopstream.connect.s3.Fakes.event;
import static io.shopstream.connect.s3.Fakes.record;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.errors.ConnectException;
import org.apache.kafka.connect.errors.RetriableException;
import org.apache.kafka.connect.sink.SinkRecord;
import org.junit.jupiter.api.Test;

class ArchiveSinkTaskTest {
    private static final String H09 = "2026-11-24T09:%02d:00.000000+00:00";
    private static final String H10 = "2026-11-24T10:%02d:00.000000+00:00";
    private static final String H11 = "2026-11-24T11:%02d:00.000000+00:00";

    private final Fakes.MemoryS3 s3 = new Fakes.MemoryS3();

    private ArchiveSinkTask task(Fakes.Context context, Map<String, String> props) {
        ArchiveSinkTask t = new ArchiveSinkTask(c -> s3);
        t.initialize(context);
        t.start(props);
        return t;
    }

    private ArchiveSinkTask task(Fakes.Context context) {
        return task(context, Fakes.props());
    }

    private static Map<TopicPartition, OffsetAndMetadata> offsets(int partitions, long next) {
        Map<TopicPartition, OffsetAndMetadata> m = new HashMap<>();
        for (int p = 0; p < partitions; p++) {
            m.put(new TopicPartition(TOPIC, p), new OffsetAndMetadata(next));
        }
        return m;
    }

    @Test
    void keyNamesTheTopicTheEventHourThePartitionAndTheBuffersFirstOffset() {
        long hour = java.time.Instant.parse("2026-01-02T03:00:00Z").toEpochMilli();
        assertEquals("shopstream.orders/dt=2026-01-02/hh=03/shopstream.orders-7-1234",
                HourBuffer.key("", TOPIC, 7, hour, 1234, false));
        assertEquals("raw/shopstream.orders/dt=2026-01-02/hh=03/shopstream.orders-0-0.gz",
                HourBuffer.key("raw/", TOPIC, 0, hour, 0, true));
    }

    @Test
    void groupsByPartitionAndEventHourKeepingTheBytesInOffsetOrder() {
        ArchiveSinkTask t = task(new Fakes.Context(new Fakes.Reporter()));
        List<SinkRecord> batch = new ArrayList<>();
        batch.add(record(0, 100, event("a", String.format(H10, 1))));
        batch.add(record(1, 7, event("b", String.format(H10, 2))));
        batch.add(record(0, 101, event("c", String.format(H11, 3))));
        batch.add(record(0, 102, event("late", String.format(H09, 59)))); // late: its own hour
        batch.add(record(0, 103, event("d", String.format(H10, 4))));
        batch.add(record(1, 8, event("e", String.format(H11, 5))));
        t.put(batch);
        assertTrue(s3.objects.isEmpty(), "nothing is uploaded before the flush");
        Map<TopicPartition, OffsetAndMetadata> committed = t.preCommit(offsets(2, 200));
        assertEquals(offsets(2, 200), committed);

        Set<String> want = new HashSet<>(Arrays.asList(
                "shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-0-100",
                "shopstream.orders/dt=2026-11-24/hh=11/shopstream.orders-0-101",
                "shopstream.orders/dt=2026-11-24/hh=09/shopstream.orders-0-102",
                "shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-1-7",
                "shopstream.orders/dt=2026-11-24/hh=11/shopstream.orders-1-8"));
        assertEquals(want, s3.objects.keySet());
        byte[] expected = concat(event("a", String.format(H10, 1)), event("d", String.format(H10, 4)));
        assertArrayEquals(expected, s3.objects.get("shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-0-100"));
        assertEquals(0, t.bufferedRecords());
    }

    @Test
    void aNewFlushStartsNewObjectsNamedByTheirOwnFirstOffset() {
        ArchiveSinkTask t = task(new Fakes.Context(null));
        t.put(List.of(record(0, 0, event("a", String.format(H10, 1)))));
        t.preCommit(offsets(1, 1));
        t.put(List.of(record(0, 1, event("b", String.format(H10, 2)))));
        t.preCommit(offsets(1, 2));
        assertEquals(List.of("shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-0-0",
                "shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-0-1"), s3.puts);
    }

    @Test
    void aFailedFlushRetriedFromTheCommittedOffsetWritesTheSameKeysAndNoDuplicateLine() {
        Fakes.Context context = new Fakes.Context(null);
        ArchiveSinkTask t = task(context);
        List<SinkRecord> firstTry = new ArrayList<>();
        for (int i = 0; i < 30; i++) { // offsets 50..79 of three hours on two partitions
            String h = i % 3 == 0 ? H09 : i % 3 == 1 ? H10 : H11;
            firstTry.add(record(i % 2, 50 + i, event("e" + i, String.format(h, i))));
        }
        t.put(firstTry);
        s3.failOnPut = 3; // the third upload of six fails; the others (in parallel) succeed
        assertThrows(RetriableException.class, () -> t.preCommit(offsets(2, 80)));
        List<String> writtenByTheFailedFlush = new ArrayList<>(s3.puts);
        assertEquals(5, writtenByTheFailedFlush.size());
        assertEquals(0, t.bufferedRecords(), "a failed flush drops its buffers: the worker re-delivers");

        // The worker rewinds to the committed offsets (50) and re-delivers, now with more records.
        List<SinkRecord> retry = new ArrayList<>(firstTry);
        for (int i = 30; i < 40; i++) {
            String h = i % 3 == 0 ? H09 : i % 3 == 1 ? H10 : H11;
            retry.add(record(i % 2, 50 + i, event("e" + i, String.format(h, i))));
        }
        t.put(retry);
        t.preCommit(offsets(2, 90));
        for (String key : writtenByTheFailedFlush) {
            assertTrue(s3.puts.lastIndexOf(key) >= 5, key + " was rewritten by the retry");
        }
        assertEquals(6, s3.objects.size(), "2 partitions x 3 hours: the retry wrote no other key");
        List<String> lines = s3.lines();
        assertEquals(40, lines.size());
        assertEquals(40, new HashSet<>(lines).size(), "no line is in two objects");
    }

    @Test
    void invalidValuesGoToTheReporterWithTheReasonAndValidOnesAreArchived() {
        Fakes.Reporter reporter = new Fakes.Reporter();
        ArchiveSinkTask t = task(new Fakes.Context(reporter));
        SinkRecord bad = record(0, 1, "{not json".getBytes());
        SinkRecord noTime = record(0, 2, "{\"event_id\":\"x\"}".getBytes());
        SinkRecord tombstone = record(0, 3, null);
        t.put(List.of(record(0, 0, event("a", String.format(H10, 1))), bad, noTime, tombstone,
                record(0, 4, event("b", String.format(H10, 2)))));
        t.preCommit(offsets(1, 5));
        assertEquals(List.of(bad, noTime, tombstone), reporter.reported);
        assertTrue(reporter.errors.get(1).getMessage().contains("created_at: required field is missing"));
        assertEquals(3, t.invalidReported());
        assertEquals(2, s3.lines().size());
    }

    @Test
    void withoutAReporterInvalidValuesAreCountedAndSkippedAndTheTaskKeepsRunning() {
        for (Fakes.Context context : List.of(new Fakes.Context(null), new Fakes.OldWorkerContext())) {
            s3.objects.clear();
            ArchiveSinkTask t = task(context);
            t.put(List.of(record(0, 0, "\u00ff".getBytes()), record(0, 1, event("a", String.format(H10, 1)))));
            t.preCommit(offsets(1, 2));
            assertEquals(1, t.invalidSkipped());
            assertEquals(List.of(new String(event("a", String.format(H10, 1)))), s3.lines());
        }
    }

    @Test
    void aFullBufferIsUploadedAtOnceAndTheHourContinuesUnderItsNextFirstOffset() {
        Map<String, String> props = Fakes.props();
        props.put(ArchiveSinkConfig.FLUSH_SIZE, "3");
        ArchiveSinkTask t = task(new Fakes.Context(null), props);
        List<SinkRecord> batch = new ArrayList<>();
        for (int i = 0; i < 7; i++) {
            batch.add(record(0, 40 + i, event("e" + i, String.format(H10, i))));
        }
        batch.add(record(0, 47, event("other-hour", String.format(H11, 1))));
        t.put(batch);
        assertEquals(2, t.bufferedRecords(), "two full buffers left for the uploader");
        t.preCommit(offsets(1, 48));
        String h10 = "shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-0-";
        assertEquals(Set.of(h10 + "40", h10 + "43", h10 + "46",
                "shopstream.orders/dt=2026-11-24/hh=11/shopstream.orders-0-47"), s3.objects.keySet());
        assertEquals(3, new String(s3.objects.get(h10 + "43")).split("\n").length);
    }

    @Test
    void aRetryCutsFullBuffersAtTheSameRecords() {
        Map<String, String> props = Fakes.props();
        props.put(ArchiveSinkConfig.FLUSH_SIZE, "4");
        ArchiveSinkTask t = task(new Fakes.Context(null), props);
        List<SinkRecord> batch = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            batch.add(record(i % 2, 100 + i, event("r" + i, String.format(i % 3 == 0 ? H09 : H10, i))));
        }
        s3.failOnPut = 2;
        t.put(batch);
        assertThrows(RetriableException.class, () -> t.preCommit(offsets(2, 120)));
        Set<String> firstAttempt = new HashSet<>(s3.objects.keySet());
        t.put(batch); // re-delivered from the committed offsets
        t.preCommit(offsets(2, 120));
        assertTrue(s3.objects.keySet().containsAll(firstAttempt));
        assertEquals(s3.objects.keySet().size(), new HashSet<>(s3.puts).size());
        List<String> lines = s3.lines();
        assertEquals(20, lines.size());
        assertEquals(20, new HashSet<>(lines).size(), "no line is in two objects");
    }

    @Test
    void anOldBufferAsksTheWorkerForAFlush() throws InterruptedException {
        Fakes.Context timed = new Fakes.Context(null);
        Map<String, String> props = Fakes.props();
        props.put(ArchiveSinkConfig.FLUSH_INTERVAL_MS, "20");
        ArchiveSinkTask t = task(timed, props);
        t.put(List.of(record(0, 0, event("a", String.format(H10, 1)))));
        assertEquals(0, timed.commitRequests);
        Thread.sleep(30);
        t.put(List.of());
        assertEquals(1, timed.commitRequests);
    }

    @Test
    void gzipObjectsHoldTheSameBytes() throws IOException {
        Map<String, String> props = Fakes.props();
        props.put(ArchiveSinkConfig.COMPRESSION, "gzip");
        ArchiveSinkTask t = task(new Fakes.Context(null), props);
        byte[] a = event("a", String.format(H10, 1));
        t.put(List.of(record(2, 9, a)));
        t.preCommit(offsets(3, 10));
        byte[] body = s3.objects.get("shopstream.orders/dt=2026-11-24/hh=10/shopstream.orders-2-9.gz");
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(body))) {
            assertArrayEquals(concat(a), in.readAllBytes());
        }
    }

    @Test
    void aValueThatIsNotBytesIsAConfigurationErrorNamingTheConverter() {
        ArchiveSinkTask t = task(new Fakes.Context(null));
        SinkRecord mapValue = new SinkRecord(TOPIC, 0, null, null, null, Map.of("created_at", "x"), 0);
        ConnectException e = assertThrows(ConnectException.class, () -> t.put(List.of(mapValue)));
        assertTrue(e.getMessage().contains("ByteArrayConverter"));
    }

    @Test
    void closingAPartitionDropsOnlyItsBuffers() {
        ArchiveSinkTask t = task(new Fakes.Context(null));
        t.put(List.of(record(0, 0, event("a", String.format(H10, 1))), record(1, 0, event("b", String.format(H10, 1)))));
        t.close(List.of(new TopicPartition(TOPIC, 0)));
        assertEquals(1, t.bufferedRecords());
    }

    @Test
    void theIngestTimeIsTheKafkaTimestampCappedAtTheClock() {
        Map<String, String> props = Fakes.props();
        props.put(ArchiveSinkConfig.EARLIEST, "2000-01-01T00:00:00.000000+00:00");
        props.put(ArchiveSinkConfig.MAX_FUTURE_SKEW, "300");
        ArchiveSinkTask t = task(new Fakes.Context(null), props);
        long kafkaTime = java.time.Instant.parse("2026-11-24T10:00:00Z").toEpochMilli();
        SinkRecord onTime = new SinkRecord(TOPIC, 0, null, null, null, event("a", String.format(H10, 4)), 0,
                kafkaTime, org.apache.kafka.common.record.TimestampType.CREATE_TIME);
        SinkRecord tooEarlyForItsTimestamp = new SinkRecord(TOPIC, 0, null, null, null,
                event("b", String.format(H10, 6)), 1, kafkaTime, org.apache.kafka.common.record.TimestampType.CREATE_TIME);
        SinkRecord farFuture = new SinkRecord(TOPIC, 0, null, null, null,
                event("c", "2999-01-01T00:00:00.000000+00:00"), 2, Long.MAX_VALUE,
                org.apache.kafka.common.record.TimestampType.CREATE_TIME); // a future Kafka time is capped
        t.put(List.of(onTime, tooEarlyForItsTimestamp, farFuture));
        t.preCommit(offsets(1, 3));
        assertEquals(2, t.invalidSkipped());
        assertEquals(1, s3.lines().size());
    }

    @Test
    void theConnectorHandsEveryTaskTheSameValidatedConfiguration() {
        ArchiveSinkConnector c = new ArchiveSinkConnector();
        c.start(Fakes.props());
        assertSame(ArchiveSinkTask.class, c.taskClass());
        assertEquals(List.of(Fakes.props(), Fakes.props()), c.taskConfigs(2));
        Map<String, String> missing = Fakes.props();
        missing.remove(ArchiveSinkConfig.BUCKET);
        assertThrows(org.apache.kafka.common.config.ConfigException.class, () -> c.start(missing));
        Map<String, String> badEarliest = Fakes.props();
        badEarliest.put(ArchiveSinkConfig.EARLIEST, "2000-01-01");
        assertThrows(org.apache.kafka.common.config.ConfigException.class, () -> c.start(badEarliest));
    }

    private static byte[] concat(byte[]... lines) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] l : lines) {
            out.writeBytes(l);
            out.write('\n');
        }
        return out.toByteArray();
    }
}
