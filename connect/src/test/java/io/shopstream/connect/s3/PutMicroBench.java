package io.shopstream.connect.s3;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.connect.sink.SinkRecord;

/**
 * CPU per record of the task's own work, no worker and no network (bench/README.md, archive):
 * the reference created_at reader (UTF-8 decode + Jackson), the fast path, and a whole
 * {@code put()} of synthetic orders into an uploader that drops the bytes. Prints CPU ns/record (this thread; uploads run elsewhere and are a no-op here)
 * after warm-up rounds. Run: {@code mvn -q -f connect/pom.xml test-compile} then
 * {@code java -cp "connect/target/classes:connect/target/test-classes:<plugin dir>/*:<connect jars>/*"
 * io.shopstream.connect.s3.PutMicroBench}.
 */
public final class PutMicroBench {
    private PutMicroBench() {}

    /** This thread's CPU time: the machine is shared, wall time would count other processes. */
    private static long cpu() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 200_000;
        List<byte[]> values = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int minute = (i / 3000) % 60;
            String ts = String.format("2026-10-01T%02d:%02d:%02d.%06d+00:00", (i / 180_000) % 24, minute, i % 60, i);
            values.add(("{\"event_id\":\"" + java.util.UUID.nameUUIDFromBytes(new byte[] {(byte) i, (byte) (i >> 8),
                (byte) (i >> 16)}) + "\",\"schema_version\":1,\"order_id\":\"ord-" + i + "\",\"user_id\":\"usr-"
                + (i % 5000) + "\",\"product_id\":\"p-" + (i % 700) + "\",\"product_name\":\"\\uc2a4\\ub9c8\\ud2b8"
                + " \\ud3f0\",\"category\":\"electronics\",\"quantity\":" + (1 + i % 4) + ",\"unit_price\":129000,"
                + "\"total_price\":" + (129000 * (1 + i % 4)) + ",\"currency\":\"KRW\",\"payment_method\":\"card\","
                + "\"status\":\"paid\",\"user_gender\":\"Men\",\"user_region\":\"Seoul\",\"created_at\":\"" + ts
                + "\"}").getBytes(StandardCharsets.UTF_8));
        }
        List<SinkRecord> records = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            records.add(new SinkRecord("bench.orders", i % 3, null, null, null, values.get(i), i / 3, 1_790_000_000_000L,
                    org.apache.kafka.common.record.TimestampType.CREATE_TIME));
        }
        long sink = 0;
        for (int round = 0; round < 8; round++) {
            long t0 = cpu();
            for (byte[] v : values) {
                sink += EventTime.NO_RANGE.micros(EventTime.createdAt(v));
            }
            long t1 = cpu();
            for (byte[] v : values) {
                sink += CreatedAtScanner.micros(v);
            }
            long t2 = cpu();
            Map<String, String> props = Fakes.props();
            props.put(ArchiveSinkConfig.FLUSH_SIZE, "20000");
            ArchiveSinkTask task = new ArchiveSinkTask(c -> new Uploader() {
                @Override
                public void put(String key, byte[] body, String contentType) {}

                @Override
                public void close() {}
            });
            task.start(props);
            long t3 = cpu();
            for (int from = 0; from < n; from += 10_000) {
                task.put(records.subList(from, Math.min(n, from + 10_000)));
            }
            task.upload();
            long t4 = cpu();
            task.stop();
            System.out.printf("round %d: reference reader %.0f ns, fast path %.0f ns, put() %.0f ns per record%n",
                    round, (t1 - t0) / (double) n, (t2 - t1) / (double) n, (t4 - t3) / (double) n);
        }
        System.out.println(sink == 42 ? "" : "(" + values.get(0).length + " bytes per value)");
    }
}
