// A single-node OpenSearch for the local stack, started through the codelibs runner.
// Unlike the runner's own main(), it binds HTTP and transport to exact loopback ports (no
// silent port hopping), runs as a single-node cluster, and prints why it failed.
// Compiled by `shopstream jars` into the jar cache; run by shopstream/stack/opensearch.py.
import org.codelibs.opensearch.runner.OpenSearchRunner;

public final class ShopstreamOpenSearch {
    private ShopstreamOpenSearch() {
    }

    public static void main(final String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: ShopstreamOpenSearch BASE_PATH HTTP_PORT TRANSPORT_PORT CLUSTER_NAME");
            System.exit(2);
        }
        final String basePath = args[0];
        final String httpPort = args[1];
        final String transportPort = args[2];
        final OpenSearchRunner runner = new OpenSearchRunner();
        runner.onBuild((index, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", httpPort);
            settings.put("transport.port", transportPort);
            settings.put("discovery.type", "single-node");
            settings.put("action.auto_create_index", "true");
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (final Exception e) {
                e.printStackTrace();
            }
        }));
        try {
            runner.build("-basePath", basePath, "-numOfNode", "1", "-clusterName", args[3], "-printOnFailure");
        } catch (final Throwable t) {
            t.printStackTrace();
            System.exit(1);
        }
        System.out.println("shopstream-opensearch: started on 127.0.0.1:" + httpPort);
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
