package tallywire.peer;

import com.google.flatbuffers.FlatBufferBuilder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ContextualProcessor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import tallywire.wire.Alert;
import tallywire.wire.AlertKind;
import tallywire.wire.PrecinctTally;
import tallywire.wire.RaceDefinition;

/**
 * What tallywire's aggregator computes, as a Kafka Streams processor: per
 * race the latest version of each precinct (a newer report replaces the older
 * one, totals move by the difference; stale versions change nothing), the
 * candidate totals, and a 50 % share crossing alert, up or down, per
 * candidate, with tallywire's default rules (25 bp hysteresis band, share
 * alerts only once 1 % of precincts report complete).
 *
 * <p>State lives in two key-value stores (changelogged, so a task that moves
 * restores it, the Kafka Streams way): "precincts" ("race/precinct" to
 * version, complete flag, votes) and "races" ("definition/RACE" to the
 * RaceDefinition bytes, "totals/RACE" to the totals and crossing state). A task-local cache of decoded races is written
 * through to the store on every change.
 *
 * <p>Output (one topic): alerts as FlatBuffers Alert (TWAL) keyed by race,
 * with the input's tallywire.sent_us header forwarded and tallywire.kind =
 * alert; and every 100 ms of wall clock, if anything changed, a progress
 * record per task (tallywire.kind = progress, text, see {@link #progress})
 * with the task's cumulative counts, its produce-to-applied latency histogram
 * and its races' totals, which the C++ bench reads to count, time and verify.
 */
final class TallyProcessor extends ContextualProcessor<byte[], byte[], byte[], byte[]> {
  static final String PRECINCTS = "precincts";
  static final String RACES = "races";
  static final String DEFINITION = "definition/"; // keys of the races store
  static final String TOTALS = "totals/";
  static final String SENT_AT_HEADER = "tallywire.sent_us";
  static final String KIND_HEADER = "tallywire.kind";
  static final int THRESHOLD_BP = 5000;
  static final int HYSTERESIS_BP = 25;
  static final int MIN_REPORTING_BP = 100;

  /** One race: its definition and running totals, encoded as the store value. */
  private static final class Race {
    String id;
    String[] candidateIds;
    String[] candidateNames;
    int precinctsTotal;
    long[] votes;
    long total;
    long reporting;
    boolean[] above; // per candidate: last announced side of 50 %
    int[] fired; // per candidate: crossings so far (alert id sequence)

    static Race fromDefinition(byte[] bytes) {
      final RaceDefinition d = RaceDefinition.getRootAsRaceDefinition(ByteBuffer.wrap(bytes));
      final Race r = new Race();
      r.id = d.raceId();
      final int k = d.candidatesLength();
      r.candidateIds = new String[k];
      r.candidateNames = new String[k];
      for (int c = 0; c < k; ++c) {
        r.candidateIds[c] = d.candidates(c).id();
        r.candidateNames[c] = d.candidates(c).name();
      }
      r.precinctsTotal = d.precinctsLength();
      r.votes = new long[k];
      r.above = new boolean[k];
      r.fired = new int[k];
      return r;
    }

    /** The totals, without the definition (which changes rarely). */
    byte[] encodeTotals() {
      final int k = votes.length;
      final ByteBuffer b = ByteBuffer.allocate(16 + k * 13);
      b.putLong(total).putLong(reporting);
      for (int c = 0; c < k; ++c) b.putLong(votes[c]).put((byte) (above[c] ? 1 : 0)).putInt(fired[c]);
      return b.array();
    }

    void decodeTotals(byte[] bytes) {
      final ByteBuffer b = ByteBuffer.wrap(bytes);
      total = b.getLong();
      reporting = b.getLong();
      for (int c = 0; c < votes.length; ++c) {
        votes[c] = b.getLong();
        above[c] = b.get() != 0;
        fired[c] = b.getInt();
      }
    }
  }

  private KeyValueStore<String, byte[]> precincts;
  private KeyValueStore<String, byte[]> races;
  private final Map<String, Race> cache = new HashMap<>();
  private final PrecinctTally tally = new PrecinctTally();
  private final FlatBufferBuilder builder = new FlatBufferBuilder(512);
  private final LatencyHistogram latency = new LatencyHistogram();
  private final byte[] kindAlert = "alert".getBytes(StandardCharsets.UTF_8);
  private final byte[] kindProgress = "progress".getBytes(StandardCharsets.UTF_8);
  private long processed, definitions, applied, stale, rejected, alertsUp, alertsDown;
  private long lastUs;
  private long reported = -1;

  @Override
  public void init(ProcessorContext<byte[], byte[]> context) {
    super.init(context);
    precincts = context.getStateStore(PRECINCTS);
    races = context.getStateStore(RACES);
    context.schedule(Duration.ofMillis(100), PunctuationType.WALL_CLOCK_TIME, now -> progress());
  }

  static long nowUs() {
    final Instant t = Instant.now();
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1000;
  }

  @Override
  public void process(Record<byte[], byte[]> record) {
    ++processed;
    final byte[] value = record.value();
    if (value == null || value.length < 8) {
      ++rejected;
    } else {
      final ByteBuffer bb = ByteBuffer.wrap(value);
      if (PrecinctTally.PrecinctTallyBufferHasIdentifier(bb)) {
        onTally(record, bb);
      } else if (RaceDefinition.RaceDefinitionBufferHasIdentifier(bb)) {
        onDefinition(value);
      } else {
        ++rejected;
      }
    }
    lastUs = nowUs();
  }

  private void onDefinition(byte[] value) {
    ++definitions;
    final Race fresh = Race.fromDefinition(value);
    final Race old = race(fresh.id);
    // A redefinition with the same candidates keeps the totals (as
    // tallywire's RaceModel::SameShape); another shape starts over.
    if (old != null && old.votes.length == fresh.votes.length) {
      old.candidateNames = fresh.candidateNames;
      old.precinctsTotal = fresh.precinctsTotal;
      races.put(DEFINITION + old.id, value);
      return;
    }
    cache.put(fresh.id, fresh);
    races.put(DEFINITION + fresh.id, value);
    races.put(TOTALS + fresh.id, fresh.encodeTotals());
  }

  private Race race(String id) {
    Race r = cache.get(id);
    if (r == null) {
      final byte[] definition = races.get(DEFINITION + id);
      if (definition == null) return null;
      r = Race.fromDefinition(definition);
      final byte[] totals = races.get(TOTALS + id);
      if (totals != null) r.decodeTotals(totals);
      cache.put(id, r);
    }
    return r;
  }

  private void onTally(Record<byte[], byte[]> record, ByteBuffer bb) {
    PrecinctTally.getRootAsPrecinctTally(bb, tally);
    final Race race = tally.raceId() == null ? null : race(tally.raceId());
    final int k = race == null ? 0 : race.votes.length;
    if (race == null || tally.precinctId() == null || tally.votesLength() != k) {
      ++rejected; // tallywire sends these to its dead-letter topic
      return;
    }
    final String key = race.id + "/" + tally.precinctId();
    final byte[] old = precincts.get(key);
    final ByteBuffer prev = old == null ? null : ByteBuffer.wrap(old);
    final long version = tally.version();
    if (prev != null && Long.compareUnsigned(version, prev.getLong(0)) <= 0) {
      ++stale;
      return;
    }
    final boolean complete = tally.complete();
    final ByteBuffer next = ByteBuffer.allocate(9 + 8 * k);
    next.putLong(version).put((byte) (complete ? 1 : 0));
    for (int c = 0; c < k; ++c) {
      final long v = tally.votes(c);
      final long was = prev == null ? 0 : prev.getLong(9 + 8 * c);
      race.votes[c] += v - was;
      race.total += v - was;
      next.putLong(v);
    }
    final boolean wasComplete = prev != null && prev.get(8) != 0;
    race.reporting += (complete ? 1 : 0) - (wasComplete ? 1 : 0);
    precincts.put(key, next.array());
    detect(race, record);
    races.put(TOTALS + race.id, race.encodeTotals());
    ++applied;
    final Header sent = record.headers().lastHeader(SENT_AT_HEADER);
    if (sent != null) {
      try {
        latency.record(nowUs() - Long.parseLong(new String(sent.value(), StandardCharsets.US_ASCII)));
      } catch (NumberFormatException e) {
        // no latency for a malformed header; the tally still counts
      }
    }
  }

  // tallywire's RaceDetector share rule, 50 % only: a candidate's share must
  // leave the band [50 % - h, 50 % + h] on the other side from where it was
  // last announced; every candidate starts below.
  private void detect(Race race, Record<byte[], byte[]> record) {
    if (race.total <= 0) return;
    if (race.reporting * 10000 < (long) MIN_REPORTING_BP * Math.max(1, race.precinctsTotal)) return;
    for (int c = 0; c < race.votes.length; ++c) {
      final long v = race.votes[c];
      final boolean up = !race.above[c] && v * 10000 > (THRESHOLD_BP + HYSTERESIS_BP) * race.total;
      final boolean down = race.above[c] && v * 10000 < (THRESHOLD_BP - HYSTERESIS_BP) * race.total;
      if (!up && !down) continue;
      race.above[c] = up;
      ++race.fired[c];
      if (up) ++alertsUp;
      else ++alertsDown;
      emitAlert(race, c, up ? AlertKind.ThresholdCrossedUp : AlertKind.ThresholdCrossedDown, record);
    }
  }

  private void emitAlert(Race race, int c, byte kind, Record<byte[], byte[]> record) {
    final int shareBp = (int) (race.votes[c] * 10000 / race.total);
    final String id = race.id + "/" + AlertKind.name(kind) + "/" + race.candidateIds[c] + "/"
        + THRESHOLD_BP + "/" + race.fired[c];
    final String message = race.candidateNames[c]
        + (kind == AlertKind.ThresholdCrossedUp ? " rose above 50.0 % (" : " fell below 50.0 % (")
        + shareBp / 100 + "." + String.format("%02d", shareBp % 100) + " %, "
        + race.reporting * 100 / Math.max(1, race.precinctsTotal) + " % of precincts reporting)";
    final RecordMetadata meta = context().recordMetadata().orElse(null);
    builder.clear();
    final int idOff = builder.createString(id);
    final int raceOff = builder.createString(race.id);
    final int candOff = builder.createString(race.candidateIds[c]);
    final int nameOff = builder.createString(race.candidateNames[c] == null ? "" : race.candidateNames[c]);
    final int topicOff = builder.createString(meta == null ? "" : meta.topic());
    final int messageOff = builder.createString(message);
    Alert.startAlert(builder);
    Alert.addId(builder, idOff);
    Alert.addKind(builder, kind);
    Alert.addRaceId(builder, raceOff);
    Alert.addCandidateId(builder, candOff);
    Alert.addCandidateName(builder, nameOff);
    Alert.addThresholdBp(builder, THRESHOLD_BP);
    Alert.addShareBp(builder, shareBp);
    Alert.addVotes(builder, race.votes[c]);
    Alert.addTotalVotes(builder, race.total);
    Alert.addPrecinctsReporting(builder, (int) race.reporting);
    Alert.addPrecinctsTotal(builder, race.precinctsTotal);
    Alert.addEventTimeMs(builder, tally.eventTimeMs());
    Alert.addProduceTimeMs(builder, record.timestamp());
    Alert.addDetectTimeMs(builder, System.currentTimeMillis());
    Alert.addSourceTopic(builder, topicOff);
    Alert.addSourcePartition(builder, meta == null ? -1 : meta.partition());
    Alert.addSourceOffset(builder, meta == null ? -1 : meta.offset());
    Alert.addMessage(builder, messageOff);
    Alert.finishAlertBuffer(builder, Alert.endAlert(builder));
    final Headers headers = new RecordHeaders();
    final Header sent = record.headers().lastHeader(SENT_AT_HEADER);
    if (sent != null) headers.add(SENT_AT_HEADER, sent.value());
    headers.add(KIND_HEADER, kindAlert);
    context().forward(new Record<>(race.id.getBytes(StandardCharsets.UTF_8),
        builder.sizedByteArray(), record.timestamp(), headers));
  }

  /**
   * The progress record: one line per fact, cumulative since the task
   * started, so the latest record of each task is all the bench needs.
   *
   * <pre>
   * task 0_1
   * processed N          records read (definitions, tallies, rejected)
   * definitions N
   * applied N            tallies that changed a precinct
   * stale N
   * rejected N
   * last_us T            wall clock (Unix us) after the last record
   * alerts_up N
   * alerts_down N
   * latency_us E:N ...   produce-to-applied histogram, bucket upper edge:count
   * race ID V1 V2 ...    candidate totals, one line per race of the task
   * </pre>
   */
  private void progress() {
    if (processed == reported) return;
    reported = processed;
    final StringBuilder out = new StringBuilder(1024);
    out.append("task ").append(context().taskId()).append('\n');
    out.append("processed ").append(processed).append('\n');
    out.append("definitions ").append(definitions).append('\n');
    out.append("applied ").append(applied).append('\n');
    out.append("stale ").append(stale).append('\n');
    out.append("rejected ").append(rejected).append('\n');
    out.append("last_us ").append(lastUs).append('\n');
    out.append("alerts_up ").append(alertsUp).append('\n');
    out.append("alerts_down ").append(alertsDown).append('\n');
    out.append("latency_us");
    latency.appendTo(out);
    out.append('\n');
    for (Race r : new TreeMap<>(cache).values()) {
      out.append("race ").append(r.id);
      for (long v : r.votes) out.append(' ').append(v);
      out.append('\n');
    }
    final Headers headers = new RecordHeaders();
    headers.add(KIND_HEADER, kindProgress);
    context().forward(new Record<>(("progress/" + context().taskId()).getBytes(StandardCharsets.UTF_8),
        out.toString().getBytes(StandardCharsets.UTF_8), System.currentTimeMillis(), headers));
  }
}
