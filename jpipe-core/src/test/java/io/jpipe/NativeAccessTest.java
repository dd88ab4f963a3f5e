package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.jpipe.internal.ThisJvm;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A JVM that does not grant jpipe native access gets one clear exception, with the flag. */
class NativeAccessTest {
  /**
   * Without native access, every entry point throws one IllegalCallerException that gives the flag,
   * each time it is called (never an ExceptionInInitializerError, nor a NoClassDefFoundError after
   * it); with the JDK's default (warn) and with --illegal-native-access=deny alike.
   */
  @Test
  void withoutNativeAccessEveryEntryPointSaysWhichFlagToAdd() throws Exception {
    for (String mode : List.of("--illegal-native-access=warn", "--illegal-native-access=deny")) {
      List<String> cmd =
          List.of(
              Path.of(System.getProperty("java.home"), "bin", "java").toString(),
              "-XX:-UsePerfData",
              "-Xshare:auto",
              mode,
              "-cp",
              System.getProperty("java.class.path"),
              NativeAccessProbe.class.getName());
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(60, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue(), out);
      String expected =
          "java.lang.IllegalCallerException: jpipe needs native access (it calls libc through the"
              + " Foreign Function & Memory API), and this JVM does not grant it to the class path:"
              + " start the JVM with --enable-native-access=ALL-UNNAMED. jpipe requires it even"
              + " where the JDK would only print a warning.";
      List<String> lines = out.lines().filter(l -> l.startsWith("probe ")).toList();
      assertEquals(NativeAccessProbe.ENTRY_POINTS * 2, lines.size(), out);
      for (String line : lines) {
        assertTrue(line.endsWith(": " + expected), mode + ": " + line);
      }
      assertFalse(out.contains("WARNING"), "no restricted method was called: " + out);
    }
  }

  @Test
  void inATestJvmTheMessageSaysWhereTheFlagGoes() {
    // this JVM is a Surefire fork
    String message =
        ThisJvm.nativeAccessMessage(ClassLoader.getSystemClassLoader().getUnnamedModule());
    assertTrue(
        message.contains(
            "this test JVM, forked by Maven Surefire or Failsafe: add"
                + " --enable-native-access=ALL-UNNAMED to the plugin's <argLine>"),
        message);
  }
}
