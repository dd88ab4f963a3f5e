package io.jpipe.internal;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * How this JVM was launched, as far as jpipe's first-use messages and its children's command lines
 * need to know: by {@code java -jar}, inside Maven ({@code mvn exec:java}), as a test runner's
 * fork, or plainly.
 */
public final class ThisJvm {
  private ThisJvm() {}

  /**
   * The jar that {@code java -jar} ran, if this JVM was started that way: then the class path is
   * exactly that jar, and the launcher's command ({@code sun.java.command}) starts with it.
   *
   * @return the jar, or empty
   */
  public static Optional<Path> executableJar() {
    String cp = System.getProperty("java.class.path", "");
    String command = System.getProperty("sun.java.command", "");
    if (cp.isEmpty()
        || cp.contains(File.pathSeparator)
        || !cp.toLowerCase(Locale.ROOT).endsWith(".jar")
        || !(command.equals(cp) || command.startsWith(cp + " "))) {
      return Optional.empty();
    }
    Path jar = Path.of(cp);
    return Files.isRegularFile(jar) ? Optional.of(jar) : Optional.empty();
  }

  /**
   * What to do when jpipe's module has no native access: the exact flag for the way this JVM was
   * launched, and where it goes.
   *
   * @param jpipe jpipe's module
   * @return a message for an {@link IllegalCallerException}
   */
  public static String nativeAccessMessage(Module jpipe) {
    String flag = "--enable-native-access=ALL-UNNAMED";
    String what;
    String fix;
    Optional<Path> jar = executableJar();
    if (jpipe.isNamed()) {
      what = "module " + jpipe.getName();
      fix = "start the JVM with --enable-native-access=" + jpipe.getName();
    } else if (jar.isPresent()) {
      String name = jar.get().getFileName().toString();
      what = "the class path of " + name + ", run by java -jar";
      fix =
          "add the manifest entry 'Enable-Native-Access: ALL-UNNAMED' to "
              + name
              + ", or start it with java "
              + flag
              + " -jar "
              + name;
    } else if (System.getProperty("surefire.real.class.path") != null
        || System.getProperty("surefire.test.class.path") != null) {
      what = "the class path of this test JVM, forked by Maven Surefire or Failsafe";
      fix = "add " + flag + " to the plugin's <argLine>";
    } else if (System.getProperty("org.gradle.test.worker") != null) {
      what = "the class path of this Gradle test worker";
      fix = "add jvmArgs '" + flag + "' to the test task";
    } else if (System.getProperty("classworlds.conf") != null
        || System.getProperty("maven.home") != null) {
      what = "the class path of this JVM, which is Maven's own (mvn exec:java runs programs in it)";
      fix = "add " + flag + " to the project's .mvn/jvm.config, or to MAVEN_OPTS";
    } else {
      what = "the class path";
      fix = "start the JVM with " + flag;
    }
    return "jpipe needs native access (it calls libc through the Foreign Function & Memory API),"
        + " and this JVM does not grant it to "
        + what
        + ": "
        + fix
        + ". jpipe requires it even where the JDK would only print a warning.";
  }
}
