package io.jpipe.internal.spawn;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The JDK 25 AOT cache for child JVMs: classes loaded and linked, and profiles, from a training
 * run, so a child boots in a fraction of the time.
 *
 * <p>Created automatically: the first child started without a cache triggers a training run in the
 * background ({@link AotTraining} with {@code -XX:AOTCacheOutput}); later children use the cache.
 * Never stale: the cache's file name is a hash of everything it depends on (the JDK build, every
 * class and module path entry with its size and modification time, the JVM options), so a rebuilt
 * jar or another option simply means another cache. The JVM only accepts a class path of jar files
 * for an AOT cache, so with directories on it (an IDE, Maven's tests) no cache is used.
 *
 * <p>Caches live in {@code $XDG_CACHE_HOME/jpipe/aot} (else {@code ~/.cache/jpipe/aot}), a
 * directory only the user can read; {@code -Djpipe.aot.dir=...} moves it and {@code
 * -Djpipe.aot=false} turns the cache off. A directory owned by another user, or writable by group
 * or others, is not used (children then start without a cache).
 */
final class AotCache {
  private AotCache() {}

  /** Bumped when the training or the key changes meaning. */
  private static final String FORMAT = "jpipe-aot-1";

  private static final Set<Path> TRAINING = ConcurrentHashMap.newKeySet();

  /**
   * The options that make a child use its AOT cache, or none (and training starts if it can).
   *
   * @param jvmOptions the user's options for the child
   * @return {@code -XX:AOTCache=...}, or nothing
   */
  static List<String> options(List<String> jvmOptions) {
    if (!Boolean.parseBoolean(System.getProperty("jpipe.aot", "true"))) {
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
    if (!Boolean.parseBoolean(System.getProperty("jpipe.aot", "true"))) {
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
    String configured = System.getProperty("jpipe.aot.dir");
    Path dir;
    if (configured != null) {
      dir = Path.of(configured);
    } else {
      String xdg = System.getenv("XDG_CACHE_HOME");
      Path base =
          xdg != null && !xdg.isEmpty()
              ? Path.of(xdg)
              : Path.of(System.getProperty("user.home"), ".cache");
      dir = base.resolve("jpipe").resolve("aot");
    }
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(
          dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    checkPrivate(dir);
    return dir;
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
    parts.addAll(ChildLauncher.DEFAULT_JVM_OPTIONS);
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
      Files.setLastModifiedTime(
          marker, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis()));
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
    cmd.add(ChildLauncher.javaExecutable());
    cmd.addAll(ChildLauncher.DEFAULT_JVM_OPTIONS);
    cmd.addAll(ChildJvm.standard().options()); // as a child's: the JVM checks they match
    cmd.addAll(jvmOptions);
    cmd.add("-XX:AOTCacheOutput=" + tmp);
    cmd.addAll(ChildJvm.main(AotTraining.class));
    new ProcessBuilder(cmd)
        .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
  }
}
