package io.jpipe.adoption;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.jpipe.ChildProcess;
import io.jpipe.pickle.PickleCodec;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

/**
 * A copy of {@code src/test/user-project} in a directory of its own under {@code target}, with a
 * private Maven repository that holds this build's jpipe artifacts, and the runs of its programs.
 *
 * <p>The private repository is the user's local repository (the outer build's), linked entry by
 * entry, except for {@code io/jpipe}, which holds only this build's jars and poms: the user project
 * resolves plugins and libraries as any project would (offline when the outer build is), and jpipe
 * from this build, without installing anything into the user's repository.
 */
final class UserProject implements AutoCloseable {
  private static final Duration RUN_TIMEOUT = Duration.ofMinutes(10); // liveness only

  private final Path work;
  private final Path dir;
  private final Path repo;
  private int runs;

  private UserProject(Path work) {
    this.work = work;
    this.dir = work.resolve("project");
    this.repo = work.resolve("repository");
  }

  private static String property(String name) {
    String value = System.getProperty(name);
    if (value == null || value.isEmpty()) {
      throw new IllegalStateException(name + " is not set (the pom's surefire configuration)");
    }
    return value;
  }

  /** Copies the project, fills its jpipe version in, and makes its repository. */
  static UserProject create() throws IOException, URISyntaxException {
    Path target = Path.of(property("jpipe.adoption.work"));
    Files.createDirectories(target);
    UserProject p = new UserProject(Files.createTempDirectory(target, "adoption-"));
    String version = property("jpipe.adoption.version");
    copyTree(Path.of(property("jpipe.adoption.project")), p.dir);
    Path pom = p.dir.resolve("pom.xml");
    Files.writeString(pom, Files.readString(pom).replace("@JPIPE_VERSION@", version));
    p.makeRepository(version);
    return p;
  }

  /** The project's directory. */
  Path dir() {
    return dir;
  }

  private void makeRepository(String version) throws IOException, URISyntaxException {
    Path m2 = Path.of(property("jpipe.adoption.localRepository"));
    Files.createDirectories(m2);
    Files.createDirectories(repo.resolve("io"));
    try (Stream<Path> top = Files.list(m2)) {
      for (Path p : top.toList()) {
        if (!p.getFileName().toString().equals("io")) {
          Files.createSymbolicLink(repo.resolve(p.getFileName().toString()), p);
        }
      }
    }
    if (Files.isDirectory(m2.resolve("io"))) {
      try (Stream<Path> io = Files.list(m2.resolve("io"))) {
        for (Path p : io.toList()) {
          if (!p.getFileName().toString().equals("jpipe")) {
            Files.createSymbolicLink(repo.resolve("io").resolve(p.getFileName().toString()), p);
          }
        }
      }
    }
    Path root = Path.of(property("jpipe.adoption.root"));
    install("jpipe-parent", version, root.resolve("pom.xml"), null);
    install("jpipe-core", version, root.resolve("jpipe-core/pom.xml"), ChildProcess.class);
    install("jpipe-pickle", version, root.resolve("jpipe-pickle/pom.xml"), PickleCodec.class);
  }

  /** Puts an artifact where a local repository keeps an installed one. */
  private void install(String artifact, String version, Path pom, Class<?> fromJar)
      throws IOException, URISyntaxException {
    Path d = repo.resolve("io/jpipe").resolve(artifact).resolve(version);
    Files.createDirectories(d);
    Files.copy(pom, d.resolve(artifact + "-" + version + ".pom"));
    if (fromJar == null) {
      return;
    }
    Path jar = d.resolve(artifact + "-" + version + ".jar");
    Path built = Path.of(fromJar.getProtectionDomain().getCodeSource().getLocation().toURI());
    if (Files.isDirectory(built)) {
      jar(built, jar); // "mvn test": the reactor hands out target/classes, not the jar
    } else {
      Files.copy(built, jar);
    }
  }

  private static void jar(Path classes, Path jar) throws IOException {
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
        Stream<Path> files = Files.walk(classes)) {
      for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
        out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
        Files.copy(f, out);
        out.closeEntry();
      }
    }
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> files = Files.walk(from)) {
      for (Path f : files.toList()) {
        Path t = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(t);
        } else {
          Files.copy(f, t, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
  }

  /** This JVM's java, a JDK 25. */
  static String java() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /** One finished run: its exit code and everything it printed. */
  record Run(List<String> command, int exitCode, String output) {
    /** The command and the end of the output, for an assertion message. */
    String tail() {
      String[] lines = output.split("\n");
      int from = Math.max(0, lines.length - 60);
      return String.join(" ", command)
          + "\nexit code "
          + exitCode
          + "\n"
          + String.join("\n", List.of(lines).subList(from, lines.length));
    }
  }

  /** Runs Maven in {@code in} on the user project, with its private repository. */
  Run mvn(Path in, String... goals) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(property("jpipe.adoption.mavenHome"), "bin", "mvn").toString());
    cmd.add("-B");
    cmd.add("-ntp");
    cmd.add("-Dstyle.color=never");
    if (System.getProperty("jpipe.adoption.offline", "").equals("[true]")) { // as this build
      cmd.add("-o");
    }
    cmd.add("-Dmaven.repo.local=" + repo);
    cmd.addAll(List.of(goals));
    return run(in, cmd);
  }

  /** Runs a command in the project's directory. */
  Run run(List<String> cmd) throws IOException, InterruptedException {
    return run(dir, cmd);
  }

  private Run run(Path in, List<String> cmd) throws IOException, InterruptedException {
    Path log = work.resolve("run-" + (++runs) + ".log");
    ProcessBuilder pb =
        new ProcessBuilder(cmd)
            .directory(in.toFile())
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    Map<String, String> env = pb.environment();
    // the user's shell, not the outer build's: no options or project directory leak in
    for (String v :
        List.of(
            "MAVEN_OPTS",
            "MAVEN_ARGS",
            "MAVEN_CONFIG",
            "MAVEN_BASEDIR",
            "MAVEN_PROJECTBASEDIR",
            "JDK_JAVA_OPTIONS",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS")) {
      env.remove(v);
    }
    env.put("JAVA_HOME", System.getProperty("java.home"));
    Process p = pb.start();
    try {
      if (!p.waitFor(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
        throw new AssertionError(
            "did not finish in " + RUN_TIMEOUT + ": " + cmd + "\n" + Files.readString(log));
      }
    } catch (InterruptedException e) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      throw e;
    }
    return new Run(cmd, p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
  }

  /**
   * Checks that no process whose command line names the project is left (a child, a training run),
   * then deletes the copy and its repository: links only, never what they point to.
   */
  @Override
  public void close() throws IOException {
    try {
      List<String> left = List.of();
      for (int i = 0; i < 100; i++) { // a parent exits once its children have: this is quick
        left = processesNaming(work.toString());
        if (left.isEmpty()) {
          break;
        }
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
      assertEquals(List.of(), left, "processes left behind");
    } finally {
      deleteTree(work);
    }
  }

  private static List<String> processesNaming(String path) {
    List<String> found = new ArrayList<>();
    ProcessHandle.allProcesses()
        .forEach(
            h ->
                h.info()
                    .commandLine()
                    .filter(c -> c.contains(path))
                    .ifPresent(c -> found.add(h.pid() + " " + c)));
    return found;
  }

  private static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root)) {
      return;
    }
    Files.walkFileTree( // does not follow links: a link is deleted as a file
        root,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.delete(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
            if (e != null) {
              throw e;
            }
            Files.delete(d);
            return FileVisitResult.CONTINUE;
          }
        });
  }
}
