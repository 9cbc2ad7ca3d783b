package tallywire.peer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.LogAndContinueExceptionHandler;
import org.apache.kafka.streams.state.KeyValueBytesStoreSupplier;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer: tallies topic in, alerts and progress out (see
 * {@link TallyProcessor}). Prints "tallywire-peer: running" on stdout each
 * time the application reaches RUNNING (group joined, tasks assigned and
 * restored), which is what the bench waits for before it produces. SIGTERM
 * closes the application (commits, leaves the group) and exits 0.
 *
 * <pre>
 * PeerApp --brokers H:P --input TOPIC --output TOPIC [--app-id ID] [--threads N]
 *         [--store memory|rocksdb] [--state-dir DIR]
 * </pre>
 */
public final class PeerApp {
  private static String arg(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; ++i) {
      if (args[i].equals(name)) return args[i + 1];
    }
    if (fallback == null) {
      System.err.println("tallywire-peer: " + name + " is required");
      System.exit(2);
    }
    return fallback;
  }

  private static void deleteTree(Path root) {
    try (var paths = Files.walk(root)) {
      paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (java.io.IOException | RuntimeException e) {
      System.err.println("tallywire-peer: could not remove " + root + ": " + e);
    }
  }

  static Topology topology(String input, String output, String store) {
    final boolean rocks = store.equals("rocksdb");
    final KeyValueBytesStoreSupplier precincts = rocks
        ? Stores.persistentKeyValueStore(TallyProcessor.PRECINCTS)
        : Stores.inMemoryKeyValueStore(TallyProcessor.PRECINCTS);
    final KeyValueBytesStoreSupplier races = rocks
        ? Stores.persistentKeyValueStore(TallyProcessor.RACES)
        : Stores.inMemoryKeyValueStore(TallyProcessor.RACES);
    final Topology t = new Topology();
    t.addSource("tallies", new ByteArrayDeserializer(), new ByteArrayDeserializer(), input);
    t.addProcessor("aggregate", TallyProcessor::new, "tallies");
    t.addStateStore(Stores.keyValueStoreBuilder(precincts, Serdes.String(), Serdes.ByteArray()),
        "aggregate");
    t.addStateStore(Stores.keyValueStoreBuilder(races, Serdes.String(), Serdes.ByteArray()),
        "aggregate");
    t.addSink("alerts", output, new ByteArraySerializer(), new ByteArraySerializer(), "aggregate");
    return t;
  }

  public static void main(String[] args) throws Exception {
    final String brokers = arg(args, "--brokers", null);
    final String input = arg(args, "--input", null);
    final String output = arg(args, "--output", null);
    final String appId = arg(args, "--app-id", "tallywire-peer-" + input);
    final String threads = arg(args, "--threads", "2");
    final String store = arg(args, "--store", "memory");
    if (!store.equals("memory") && !store.equals("rocksdb")) {
      System.err.println("tallywire-peer: --store must be memory or rocksdb");
      System.exit(2);
    }
    final boolean ownStateDir = arg(args, "--state-dir", "").isEmpty();
    final String stateDir = ownStateDir
        ? Files.createTempDirectory("tallywire-peer-").toString()
        : arg(args, "--state-dir", null);

    final Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.DEFAULT_DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG,
        LogAndContinueExceptionHandler.class);
    // Same batching as tallywire's alert producer (linger.ms=5) instead of
    // Kafka Streams' 100 ms default, which would add up to 100 ms to every
    // alert: the peer is tuned for latency as tallywire is.
    p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), "5");
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");

    final KafkaStreams streams = new KafkaStreams(topology(input, output, store), p);
    final CountDownLatch closed = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING) {
        System.out.println("tallywire-peer: running");
        System.out.flush();
      } else if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
        closed.countDown();
      }
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      final boolean closedInTime = streams.close(Duration.ofSeconds(20));
      // The state dir is scratch: a later run restores from the changelog.
      if (closedInTime) streams.cleanUp();
      if (ownStateDir) deleteTree(Path.of(stateDir));
    }, "tallywire-peer-shutdown"));
    streams.start();
    closed.await();
    if (streams.state() == KafkaStreams.State.ERROR) {
      System.err.println("tallywire-peer: stream threads failed");
      System.exit(1); // runs the shutdown hook
    }
  }
}
