package io.jpipe.internal.spawn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The JDK 25 AOT cache for child JVMs: classes loaded and linked, and profiles, from a training
 * run, so a child boots in a fraction of the time.
 *
 * <p>Created automatically: the first child started without a cache triggers a training run in the
 * background ({@link Warmup} with {@code -XX:AOTCacheOutput}); later children use the cache. Never
 * stale: the cache's file name is a hash of everything it depends on (the JDK build, every class
 * and module path entry with its size and modification time, the JVM options), so a rebuilt jar or
 * another option simply means another cache. The JVM only accepts a class path of jar files for an
 * AOT cache, so with directories on it (an IDE, Maven's tests) no cache is used.
 *
 * <p>Caches live in the first of: {@code -Djpipe.aot.dir=DIR}; {@code $JPIPE_CACHE_DIR/aot}; {@code
 * $XDG_CACHE_HOME/jpipe/aot}; {@code ~/.cache/jpipe/aot} (created private to the user). {@code
 * -Djpipe.aot=false} turns the cache off: no cache is used or built. A directory owned by another
 * user, or writable by group or others, is not used (children then start without a cache).
 *
 * <p>The directory is bounded: before a new cache is trained, the oldest are deleted so that at
 * most {@link #MAX_ENTRIES} caches of at most {@link #MAX_BYTES} in all remain with the new one.
 * "Old" is by modification time, which a JVM that uses a cache refreshes (once a minute at most),
 * and a cache used within {@link #IN_USE_MILLIS} is never deleted: another JVM may be starting
 * children from it. Several JVMs may prune at once: each only deletes files that it finds old, and
 * a file already gone is skipped.
 */
final class AotCache {
  private AotCache() {}

  /** Bumped when the training or the key changes meaning. */
  private static final String FORMAT = "jpipe-aot-1";

  private static final Set<Path> TRAINING = ConcurrentHashMap.newKeySet();

  /** How many caches the directory keeps. */
  static final int MAX_ENTRIES = 4;

  /** How many bytes of caches the directory keeps (caches in use stay even beyond it). */
  static final long MAX_BYTES = 256L << 20;

  /** A cache used this recently may be in use: it is never deleted. */
  static final long IN_USE_MILLIS = TimeUnit.MINUTES.toMillis(2);

  /** How often a JVM that uses a cache refreshes its modification time. */
  private static final long TOUCH_MILLIS = TimeUnit.MINUTES.toMillis(1);

  /** A training leftover (marker, temporary file) this old belongs to no live training. */
  static final long STALE_MILLIS = TimeUnit.HOURS.toMillis(1);

  /** Names of caches: {@code child-KEY.aot}. */
  private static final java.util.regex.Pattern CACHE =
      java.util.regex.Pattern.compile("child-[0-9a-f]{24}\\.aot");

  /** Names of training leftovers: {@code child-KEY.aot.training}, {@code child-KEY.aot.PID.tmp}. */
  private static final java.util.regex.Pattern LEFTOVER =
      java.util.regex.Pattern.compile("child-[0-9a-f]{24}\\.aot\\.(training|[0-9]+\\.tmp)");

  /** When this JVM last refreshed each cache it uses. */
  private static final Map<Path, Long> TOUCHED = new ConcurrentHashMap<>();

  /**
   * Whether AOT caches are used ({@code -Djpipe.aot=false} turns them off).
   *
   * @return false if turned off
   */
  static boolean enabled() {
    return Boolean.parseBoolean(System.getProperty("jpipe.aot", "true"));
  }

  /**
   * The options that make a child use its AOT cache, or none (and training starts if it can).
   *
   * @param jvmOptions the user's options for the child
   * @return {@code -XX:AOTCache=...}, or nothing
   */
  static List<String> options(List<String> jvmOptions) {
    if (!enabled()) {
      return List.of();
    }
    try {
      String key = key(jvmOptions);
      if (key == null) {
        return List.of();
      }
      Path dir = directory();
      Path cache = dir.resolve("child-" + key + ".aot");
      if (Files.isRegularFile(cache)) {
        touch(cache);
        return List.of("-XX:AOTCache=" + cache);
      }
      trainLater(jvmOptions, dir, cache);
    } catch (IOException | RuntimeException e) {
      // no cache: children start the slower way
    }
    return List.of();
  }

  /**
   * Makes sure the cache for these options exists, training it now if needed, waiting up to {@code
   * nanos}.
   *
   * @param jvmOptions the user's options for the children
   * @param nanos the longest wait
   * @return whether children with these options now boot from a cache
   */
  static boolean prepare(List<String> jvmOptions, long nanos) {
    if (!enabled()) {
      return false;
    }
    try {
      String key = key(jvmOptions);
      if (key == null) {
        return false;
      }
      Path dir = directory();
      Path cache = dir.resolve("child-" + key + ".aot");
      long deadline = System.nanoTime() + nanos;
      if (!Files.isRegularFile(cache)) {
        trainLater(jvmOptions, dir, cache);
      }
      while (!Files.isRegularFile(cache)) {
        if (System.nanoTime() - deadline > 0) {
          return false;
        }
        Thread.sleep(20);
      }
      return true;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Where caches live, created private to the user. */
  static Path directory() throws IOException {
    Path dir =
        location(
            System.getProperty("jpipe.aot.dir"),
            System.getenv("JPIPE_CACHE_DIR"),
            System.getenv("XDG_CACHE_HOME"),
            System.getProperty("user.home"));
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(
          dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    checkPrivate(dir);
    return dir;
  }

  /**
   * Where caches live: {@code aotDir} ({@code -Djpipe.aot.dir}), else {@code jpipeCacheDir/aot}
   * ({@code $JPIPE_CACHE_DIR}), else {@code xdgCacheHome/jpipe/aot}, else {@code
   * home/.cache/jpipe/aot}; a null or empty value is unset.
   */
  static Path location(String aotDir, String jpipeCacheDir, String xdgCacheHome, String home) {
    if (aotDir != null && !aotDir.isEmpty()) {
      return Path.of(aotDir);
    }
    if (jpipeCacheDir != null && !jpipeCacheDir.isEmpty()) {
      return Path.of(jpipeCacheDir, "aot");
    }
    Path base =
        xdgCacheHome != null && !xdgCacheHome.isEmpty()
            ? Path.of(xdgCacheHome)
            : Path.of(home, ".cache");
    return base.resolve("jpipe").resolve("aot");
  }

  /**
   * Refreshes the modification time of a cache this JVM uses (once a minute at most), so that
   * pruning counts it as recent.
   */
  private static void touch(Path cache) {
    long now = System.currentTimeMillis();
    Long last = TOUCHED.get(cache);
    if (last != null && now - last < TOUCH_MILLIS) {
      return;
    }
    TOUCHED.put(cache, now);
    try {
      Files.setLastModifiedTime(cache, FileTime.fromMillis(now));
    } catch (IOException e) {
      // pruned meanwhile, or read-only: the cache is still usable as long as it is there
    }
  }

  /**
   * Deletes the oldest caches in {@code dir} so that at most {@code keep} remain, of at most {@code
   * maxBytes} in all, never deleting one modified less than {@link #IN_USE_MILLIS} before {@code
   * now} (those count toward the limits all the same); and training leftovers older than {@link
   * #STALE_MILLIS}. Files of other names are left alone, and so is a file another JVM deletes
   * first.
   *
   * @param dir the cache directory
   * @param keep how many caches may remain
   * @param maxBytes how many bytes of caches may remain
   * @param now the time, in milliseconds since the epoch
   * @return the caches deleted
   * @throws IOException if the directory cannot be listed
   */
  static List<Path> prune(Path dir, int keep, long maxBytes, long now) throws IOException {
    record Entry(Path path, long modified, long size) {}
    List<Entry> caches = new ArrayList<>();
    try (java.nio.file.DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path p : files) {
        String name = p.getFileName().toString();
        boolean cache = CACHE.matcher(name).matches();
        if (!cache && !LEFTOVER.matcher(name).matches()) {
          continue;
        }
        BasicFileAttributes a;
        try {
          a =
              Files.readAttributes(
                  p, BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        } catch (IOException gone) {
          continue; // deleted meanwhile
        }
        if (!a.isRegularFile()) {
          continue;
        }
        long modified = a.lastModifiedTime().toMillis();
        if (cache) {
          caches.add(new Entry(p, modified, a.size()));
        } else if (now - modified > STALE_MILLIS) {
          Files.deleteIfExists(p);
        }
      }
    }
    caches.sort(
        java.util.Comparator.comparingLong(Entry::modified)
            .reversed()
            .thenComparing(e -> e.path().getFileName().toString()));
    List<Path> deleted = new ArrayList<>();
    int kept = 0;
    long bytes = 0;
    // In use first: they stay whatever the limits, and take their share of them.
    for (Entry e : caches) {
      if (now - e.modified() < IN_USE_MILLIS) {
        kept++;
        bytes += e.size();
      }
    }
    for (Entry e : caches) {
      if (now - e.modified() < IN_USE_MILLIS) {
        continue;
      }
      if (kept < keep && bytes + e.size() <= maxBytes) {
        kept++;
        bytes += e.size();
      } else {
        try {
          if (Files.deleteIfExists(e.path())) {
            deleted.add(e.path());
          }
        } catch (IOException ignored) {
          // not ours to delete after all (permissions): leave it
        }
      }
    }
    return deleted;
  }

  /**
   * Refuses a cache directory another user could write to: a child JVM boots from whatever cache
   * file it finds there, so such a directory would let that user choose the classes our children
   * run.
   */
  static void checkPrivate(Path dir) throws IOException {
    Object owner = Files.getAttribute(dir, "unix:uid");
    Object self = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    Set<PosixFilePermission> perms = Files.getPosixFilePermissions(dir);
    if (!owner.equals(self)
        || perms.contains(PosixFilePermission.GROUP_WRITE)
        || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
      throw new IOException(
          "not using AOT cache directory "
              + dir
              + ": it must belong to this user and not be writable by others");
    }
  }

  /** A hash of everything a child cache depends on, or null if no cache can be used. */
  static String key(List<String> jvmOptions) throws IOException {
    List<String> parts = new ArrayList<>();
    parts.add(FORMAT);
    parts.add(System.getProperty("java.home"));
    parts.add(System.getProperty("java.vm.version"));
    parts.addAll(ChildJvm.DEFAULT_JVM_OPTIONS);
    parts.addAll(jvmOptions);
    parts.addAll(ChildJvm.modulePathOptions());
    parts.addAll(ChildJvm.parentOptions());
    for (String property : List.of("java.class.path", "jdk.module.path")) {
      String path = System.getProperty(property, "");
      parts.add(property);
      for (String entry : path.split(java.io.File.pathSeparator)) {
        if (entry.isEmpty()) {
          continue;
        }
        Path p = Path.of(entry).toAbsolutePath();
        if (!Files.isRegularFile(p)) {
          return null; // a directory (or missing entry): the JVM refuses an AOT cache
        }
        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
        parts.add(p + "|" + a.size() + "|" + a.lastModifiedTime().toMillis());
      }
    }
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      for (String part : parts) {
        sha.update(part.getBytes(StandardCharsets.UTF_8));
        sha.update((byte) 0);
      }
      return HexFormat.of().formatHex(sha.digest(), 0, 12);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Starts one training run for {@code cache} in the background. The run is detached: a shell waits
   * for it and moves the finished cache into place, so even a parent that exits at once (a short
   * command) leaves a cache behind for the next run. A marker file keeps JVMs from training the
   * same cache at once.
   */
  private static void trainLater(List<String> jvmOptions, Path dir, Path cache) throws IOException {
    if (!TRAINING.add(cache)) {
      return;
    }
    Path marker = dir.resolve(cache.getFileName() + ".training");
    try {
      Files.createFile(marker);
    } catch (java.nio.file.FileAlreadyExistsException e) {
      long age = System.currentTimeMillis() - Files.getLastModifiedTime(marker).toMillis();
      if (age < TimeUnit.MINUTES.toMillis(10)) {
        return; // another JVM is training it
      }
      Files.setLastModifiedTime(marker, FileTime.fromMillis(System.currentTimeMillis()));
    }
    try {
      prune(dir, MAX_ENTRIES - 1, MAX_BYTES, System.currentTimeMillis()); // room for this one
    } catch (IOException e) {
      // an unreadable directory: the training below fails too, and children start without
    }
    Path tmp = dir.resolve(cache.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    List<String> cmd = new ArrayList<>();
    cmd.add("/bin/sh");
    cmd.add("-c");
    // $1 = temporary cache, $2 = cache, $3 = marker, then the java command line
    cmd.add(
        "t=$1; c=$2; m=$3; shift 3; \"$@\" && [ -s \"$t\" ] && mv -f \"$t\" \"$c\"; rm -f \"$t\" \"$m\"");
    cmd.add("jpipe-aot-training");
    cmd.add(tmp.toString());
    cmd.add(cache.toString());
    cmd.add(marker.toString());
    cmd.add(ChildJvm.javaExecutable());
    cmd.addAll(ChildJvm.DEFAULT_JVM_OPTIONS);
    cmd.addAll(ChildJvm.standard().options()); // as a child's: the JVM checks they match
    cmd.addAll(jvmOptions);
    cmd.add("-XX:AOTCacheOutput=" + tmp);
    cmd.addAll(ChildJvm.main(Warmup.class));
    new ProcessBuilder(cmd)
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
  }
}
