package io.jpipe.internal.spawn;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The AOT cache directory: private (children boot from whatever cache they find there), where the
 * settings say, and bounded.
 */
class AotCacheTest {
  @TempDir Path dir;

  private static final long NOW = System.currentTimeMillis();
  private static final long HOUR = TimeUnit.HOURS.toMillis(1);

  /**
   * A cache file named for key number {@code i}, {@code size} bytes (sparse), modified at {@code
   * modified}.
   */
  private Path cache(int i, long size, long modified) throws IOException {
    return cache(dir, i, size, modified);
  }

  private static Path cache(Path in, int i, long size, long modified) throws IOException {
    Path p = in.resolve(String.format("child-%024x.aot", i));
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      f.setLength(size);
    }
    Files.setLastModifiedTime(p, FileTime.fromMillis(modified));
    return p;
  }

  private Set<String> names() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      Set<String> out = new HashSet<>();
      files.forEach(p -> out.add(p.getFileName().toString()));
      return out;
    }
  }

  @Test
  void theLocationIsThePropertyThenJpipeCacheDirThenXdgThenHome() {
    assertEquals(Path.of("/p"), AotCache.location("/p", "/j", "/x", "/h"));
    assertEquals(Path.of("/j/aot"), AotCache.location(null, "/j", "/x", "/h"));
    assertEquals(Path.of("/j/aot"), AotCache.location("", "/j", "/x", "/h"));
    assertEquals(Path.of("/x/jpipe/aot"), AotCache.location(null, null, "/x", "/h"));
    assertEquals(Path.of("/x/jpipe/aot"), AotCache.location(null, "", "/x", "/h"));
    assertEquals(Path.of("/h/.cache/jpipe/aot"), AotCache.location(null, null, null, "/h"));
    assertEquals(Path.of("/h/.cache/jpipe/aot"), AotCache.location(null, null, "", "/h"));
  }

  @Test
  void pruningKeepsTheNewestCaches() throws IOException {
    List<Path> all = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      all.add(cache(i, 1000, NOW - (10 - i) * HOUR)); // 6 is the newest
    }
    Files.writeString(dir.resolve("notes.txt"), "not jpipe's");
    List<Path> deleted = AotCache.prune(dir, AotCache.MAX_ENTRIES, AotCache.MAX_BYTES, NOW);
    assertEquals(all.subList(0, 3), deleted.stream().sorted().toList());
    assertEquals(
        Set.of(
            "notes.txt",
            all.get(3).getFileName().toString(),
            all.get(4).getFileName().toString(),
            all.get(5).getFileName().toString(),
            all.get(6).getFileName().toString()),
        names());
    assertEquals(List.of(), AotCache.prune(dir, AotCache.MAX_ENTRIES, AotCache.MAX_BYTES, NOW));
  }

  @Test
  void pruningKeepsCachesWithinTheByteCap() throws IOException {
    long big = 100L << 20; // sparse: no disk is used
    Path oldest = cache(1, big, NOW - 3 * HOUR);
    Path middle = cache(2, big, NOW - 2 * HOUR);
    Path newest = cache(3, big, NOW - HOUR);
    List<Path> deleted = AotCache.prune(dir, AotCache.MAX_ENTRIES, AotCache.MAX_BYTES, NOW);
    assertEquals(List.of(oldest), deleted, "256 MiB hold two 100 MiB caches");
    assertTrue(Files.exists(middle) && Files.exists(newest));
  }

  @Test
  void aCacheUsedRecentlyIsNeverPrunedButCounts() throws IOException {
    List<Path> recent = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      recent.add(cache(i, 1000, NOW - 1000 * i)); // used seconds ago
    }
    Path old = cache(9, 1000, NOW - HOUR);
    assertEquals(List.of(old), AotCache.prune(dir, AotCache.MAX_ENTRIES, AotCache.MAX_BYTES, NOW));
    for (Path p : recent) {
      assertTrue(Files.exists(p), p + " is in use");
    }
    // The same caches an hour later: no longer in use, the oldest go.
    long later = NOW + HOUR;
    assertEquals(List.of(recent.get(4)), AotCache.prune(dir, 4, AotCache.MAX_BYTES, later));
  }

  @Test
  void staleTrainingLeftoversGoFreshOnesStay() throws IOException {
    String key = String.format("child-%024x.aot", 5);
    Path staleMarker = Files.createFile(dir.resolve(key + ".training"));
    Path staleTmp = Files.createFile(dir.resolve(key + ".123.tmp"));
    Path freshMarker =
        Files.createFile(dir.resolve(String.format("child-%024x.aot", 6) + ".training"));
    Path freshTmp = Files.createFile(dir.resolve(key + ".456.tmp"));
    for (Path p : List.of(staleMarker, staleTmp)) {
      Files.setLastModifiedTime(p, FileTime.fromMillis(NOW - 2 * HOUR));
    }
    AotCache.prune(dir, AotCache.MAX_ENTRIES, AotCache.MAX_BYTES, NOW);
    assertEquals(
        Set.of(freshMarker.getFileName().toString(), freshTmp.getFileName().toString()), names());
  }

  @Test
  void jvmsPruningAtOnceDeleteEachCacheOnceAndAgree() throws Exception {
    for (int i = 0; i < 12; i++) {
      cache(i, 1000, NOW - (20 - i) * HOUR);
    }
    int n = 6;
    CyclicBarrier start = new CyclicBarrier(n);
    List<CompletableFuture<List<Path>>> prunes = new ArrayList<>();
    for (int t = 0; t < n; t++) {
      prunes.add(
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  start.await();
                  return AotCache.prune(dir, AotCache.MAX_ENTRIES, AotCache.MAX_BYTES, NOW);
                } catch (Exception e) {
                  throw new IllegalStateException(e);
                }
              },
              r -> Thread.ofPlatform().daemon().start(r)));
    }
    List<Path> deleted = new ArrayList<>();
    for (CompletableFuture<List<Path>> f : prunes) {
      deleted.addAll(f.get(30, TimeUnit.SECONDS));
    }
    assertEquals(8, deleted.size(), "each of the 8 oldest deleted exactly once: " + deleted);
    assertEquals(8, new HashSet<>(deleted).size());
    assertEquals(4, names().size());
    for (int i = 8; i < 12; i++) {
      assertTrue(names().contains(String.format("child-%024x.aot", i)));
    }
  }

  @Test
  void aPrivateDirectoryIsUsed() throws IOException {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    assertDoesNotThrow(() -> AotCache.checkPrivate(dir));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
    assertDoesNotThrow(() -> AotCache.checkPrivate(dir), "readable by others is fine");
  }

  @Test
  void aDirectoryOthersCanWriteToIsRefused() throws IOException {
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
    assertThrows(IOException.class, () -> AotCache.checkPrivate(dir));
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwx---"));
    assertThrows(IOException.class, () -> AotCache.checkPrivate(dir));
  }

  @Test
  void aDirectoryOfAnotherUserIsRefused() throws IOException {
    // as a user, /proc/1 is root's; as root, a directory is handed to nobody (65534)
    Path foreign = Path.of("/proc/1");
    Object owner = Files.getAttribute(foreign, "unix:uid");
    Object self = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    if (!owner.equals(self)) {
      assertThrows(IOException.class, () -> AotCache.checkPrivate(foreign));
    } else {
      // running as root: make a directory owned by another uid
      Path other = Files.createDirectory(dir.resolve("other"));
      Files.setAttribute(other, "unix:uid", 65534);
      assertThrows(IOException.class, () -> AotCache.checkPrivate(other));
    }
  }

  // ---------------------------------------------------------------- a JVM with a cache

  /** A jar of jpipe's classes and {@link AotProbe}: a class path an AOT cache can serve. */
  private Path probeJar() throws IOException {
    Path jar = dir.resolve("probe.jar");
    Path classes = Path.of(toUri(io.jpipe.ChildProcess.class));
    Path tests = Path.of(toUri(AotProbe.class));
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
        Stream<Path> files = Files.walk(classes)) {
      for (Path p : (Iterable<Path>) files::iterator) {
        if (Files.isRegularFile(p)) {
          add(out, classes, p);
        }
      }
      String probe = AotProbe.class.getName().replace('.', '/');
      add(out, tests, tests.resolve(probe + ".class"));
    }
    return jar;
  }

  private static java.net.URI toUri(Class<?> c) {
    try {
      return c.getProtectionDomain().getCodeSource().getLocation().toURI();
    } catch (java.net.URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void add(JarOutputStream out, Path root, Path file) throws IOException {
    out.putNextEntry(new JarEntry(root.relativize(file).toString().replace('\\', '/')));
    Files.copy(file, out);
    out.closeEntry();
  }

  /** Runs {@link AotProbe} with {@code JPIPE_CACHE_DIR=cacheDir}; returns its stdout lines. */
  private static List<String> probe(Path jar, Path cacheDir, String... jvmOptions)
      throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(List.of(jvmOptions));
    cmd.addAll(List.of("-cp", jar.toString(), AotProbe.class.getName()));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().remove("XDG_CACHE_HOME");
    pb.environment().put("JPIPE_CACHE_DIR", cacheDir.toString());
    Process p = pb.start();
    try {
      // to end of file: the training it may leave behind writes nowhere, and holds no copy of it
      String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the probe JVM ended");
      assertEquals(0, p.exitValue(), text);
      return text.lines().toList();
    } finally {
      p.destroyForcibly();
    }
  }

  private static boolean running(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (IOException gone) {
      return false;
    }
  }

  /** Stops a training the probe left: its JVM is killed, then its shell cleans up and exits. */
  private static void stopTraining(long shell) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (running(shell)) {
      assertTrue(System.nanoTime() - deadline < 0, "the training's shell " + shell + " ended");
      ProcessHandle.of(shell)
          .ifPresent(h -> h.descendants().forEach(ProcessHandle::destroyForcibly));
      Thread.sleep(20);
    }
  }

  @Test
  void theOffSwitchBuildsAndUsesNoCache() throws Exception {
    Path cacheDir = dir.resolve("jpipe-cache");
    List<String> out = probe(probeJar(), cacheDir, "-Djpipe.aot=false");
    assertEquals(List.of("cache false", "exit 0"), out, "a child, no training");
    assertTrue(!Files.exists(cacheDir), "nothing written");
  }

  @Test
  void jpipeCacheDirPlacesTheCacheAndANewCacheMakesRoom() throws Exception {
    Path jar = probeJar();
    Path cacheDir = dir.resolve("jpipe-cache");
    Path aot = cacheDir.resolve("aot");
    Files.createDirectories(
        aot, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    List<Path> old = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      old.add(cache(aot, i, 1000, NOW - (10 - i) * HOUR));
    }
    List<String> out = probe(jar, cacheDir);
    List<String> left = out.stream().filter(l -> l.startsWith("left ")).toList();
    try {
      assertEquals(List.of("cache false", "exit 0"), out.subList(0, 2), String.join("\n", out));
      assertEquals(1, left.size(), "one training started: " + out);
      try (Stream<Path> files = Files.list(aot)) {
        List<String> training =
            files
                .map(p -> p.getFileName().toString())
                .filter(n -> n.endsWith(".aot.training"))
                .toList();
        assertEquals(1, training.size(), "its marker is in $JPIPE_CACHE_DIR/aot");
      }
      for (int i = 0; i < 5; i++) {
        assertEquals(i >= 2, Files.exists(old.get(i)), "the 3 newest stay, with room for 1");
      }
    } finally {
      for (String l : left) {
        stopTraining(Long.parseLong(l.substring(5)));
      }
    }
  }
}
