package io.jpipe.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code jpipe bench --quick --json} runs, with real child JVMs, and prints one JSON line with
 * every key and a positive number in each. Nothing here is about speed: the machine may be loaded.
 */
class BenchCommandTest {
  static final List<String> NUMERIC_KEYS =
      List.of(
          "rtt_bytes_us",
          "rtt_obj_us",
          "small_msgs_per_s",
          "bulk_gbps",
          "spawn_ms",
          "spawn_warm_ms",
          "spawn_b2b_ms",
          "spawn_b2b_max_ms",
          "spawn_warm_b2b_ms",
          "spawn_warm_b2b_max_ms",
          "bulk_gbps_offheap",
          "rtt_bytes_p50_us",
          "rtt_bytes_p99_us",
          "rtt_bytes_p999_us",
          "rtt_obj_p50_us",
          "rtt_obj_p99_us",
          "rtt_obj_p999_us",
          "idle_child_rss_kb",
          "queue_items_per_s",
          "event_roundtrip_us",
          "pool_tasks_per_s",
          "pool_map_tasks_per_s",
          "pool_map_first_tasks_per_s",
          "pool_start_ms",
          "pool_start_spawn_ms",
          "shm_rtt_bytes_us",
          "shm_rtt_obj_us",
          "shm_small_msgs_per_s",
          "shm_bulk_gbps",
          "shm_rtt_bytes_p50_us",
          "shm_rtt_bytes_p99_us",
          "shm_rtt_bytes_p999_us");

  // the pools start 8 worker JVMs besides the other phases' children: on a loaded machine that
  // takes longer than the default timeout
  @Test
  @Timeout(value = 6, unit = TimeUnit.MINUTES)
  void quickJsonPrintsOneLineWithEveryKey() throws Exception {
    List<String> lines =
        DemoCommandTest.jpipe(
            "bench", "--quick", "--json", "--spawn-reps", "1", "--b2b-starts", "2");
    assertEquals(1, lines.size(), "stdout: " + lines);
    String json = lines.get(0);
    assertTrue(json.startsWith("{") && json.endsWith("}"), json);
    for (String key : NUMERIC_KEYS) {
      Matcher m = Pattern.compile("\"" + key + "\": ([-0-9.eE+]+)[,}]").matcher(json);
      assertTrue(m.find(), key + " missing in " + json);
      assertTrue(Double.parseDouble(m.group(1)) > 0, key + " not positive in " + json);
    }
    assertTrue(json.matches(".*\"spawn_aot_cache\": (true|false)[,}].*"), json);
    assertTrue(json.contains("\"impl\": \"jpipe\""), json);
    assertTrue(json.matches(".*\"java\": \"[^\"]+\".*"), json);
  }

  @Test
  void medianIsPythonsMedian() {
    assertEquals(2.0, BenchCommand.median(new double[] {3, 1, 2}));
    assertEquals(2.5, BenchCommand.median(new double[] {4, 1, 3, 2}));
  }

  @Test
  void jsonEscapesStrings() {
    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("a", 1.5);
    m.put("b", "x\"y\\z");
    assertEquals("{\"a\": 1.5, \"b\": \"x\\\"y\\\\z\"}", BenchCommand.toJson(m));
  }
}
