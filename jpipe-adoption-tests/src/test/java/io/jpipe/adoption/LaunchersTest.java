package io.jpipe.adoption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * jpipe adopted by a stranger: {@code src/test/user-project} is a Maven project of its own (a
 * class-path application, {@code app}, and a named module, {@code modapp}) that depends on
 * jpipe-core and jpipe-pickle. It is built once against this build's jars, then its programs run
 * with every launcher, and each run's children must have run, found the program's classes, and
 * inherited the parent's module options and listed properties.
 */
class LaunchersTest {
  /** What the class-path application prints when all went well, after "mode=NAME". */
  private static final String APP_RESULT =
      " children=4 sum=8955055 names=[lambda, worker-0, worker-1, worker-2] exit=[0]"
          + " opens=true color=blue";

  /** The parent's options that its children must see: one listed property. */
  private static final List<String> PROPERTY =
      List.of("-Dadoption.color=blue", "-Djpipe.child.inheritProperties=adoption.color");

  private static UserProject project;
  private static String buildLog;

  @BeforeAll
  @Timeout(value = 15, unit = TimeUnit.MINUTES) // liveness only: a first CI run downloads plugins
  static void buildTheUserProject() throws Exception {
    project = UserProject.create();
    UserProject.Run build = project.mvn(project.dir(), "package");
    buildLog = build.output();
    assertEquals(0, build.exitCode(), "the user project's build failed:\n" + build.tail());
  }

  @AfterAll
  static void cleanUp() throws Exception {
    if (project != null) {
      project.close(); // checks that no process of the runs is left, then deletes everything
    }
  }

  private static String app() {
    return project.dir().resolve("app").toString();
  }

  private static String modapp() {
    return project.dir().resolve("modapp").toString();
  }

  private static void assertAppRan(String mode, UserProject.Run run) {
    assertEquals(0, run.exitCode(), run.tail());
    assertTrue(run.output().contains("RESULT mode=" + mode + APP_RESULT), run.tail());
  }

  private static List<String> java(String... options) {
    List<String> cmd = new ArrayList<>(List.of(UserProject.java(), "-XX:-UsePerfData"));
    cmd.add("-Djpipe.aot=false"); // no background cache training outliving the test
    cmd.addAll(PROPERTY);
    cmd.addAll(List.of(options));
    return cmd;
  }

  @Test
  void surefireRunsTheUsersTestsChildrenWithTheSystemAndAnIsolatedClassLoader() {
    // The user's JobTest asserts the whole result itself; a failure would have failed the build.
    assertTrue(buildLog.contains("RESULT mode=surefire" + APP_RESULT), buildLog);
    assertTrue(buildLog.contains("RESULT mode=surefire-isolated" + APP_RESULT), buildLog);
  }

  /**
   * Surefire runs a named module's tests on the module path, patched into the module (an argfile
   * with --patch-module, --add-reads, --add-opens): the children need all of it.
   */
  @Test
  void surefireRunsTheNamedModulesTestsChildrenOnTheModulePath() {
    for (int k = 1; k <= 2; k++) {
      assertTrue(buildLog.contains("RESULT surefire mod-" + k + " exit=0"), buildLog);
      assertTrue(
          buildLog.contains(
              "RESULT surefire {color=blue, httpserver=true, module=com.example.modapp, name=mod-"
                  + k
                  + ", opens=true, square="
                  + k * k
                  + "}"),
          buildLog);
    }
  }

  @Test
  void javaClassPath() throws Exception {
    String cp = app() + "/target/classes:" + app() + "/target/lib/*";
    assertAppRan(
        "cp",
        project.run(
            java(
                "--enable-native-access=ALL-UNNAMED",
                "--add-opens=java.base/java.lang=ALL-UNNAMED",
                "-cp",
                cp,
                "com.example.app.Main",
                "cp")));
  }

  @Test
  void javaJarWithItsDependenciesOnTheManifestClassPath() throws Exception {
    // native access and the opens come from the manifest, which children do not read
    assertAppRan("jar", project.run(java("-jar", app() + "/target/app-1.0.jar", "jar")));
  }

  @Test
  void javaJarOnAShadedJar() throws Exception {
    assertAppRan("shaded", project.run(java("-jar", app() + "/target/app-1.0-all.jar", "shaded")));
  }

  /** Maven runs the program in an isolated class loader inside its own JVM. */
  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES) // liveness only: a first CI run downloads plugins
  void mvnExecJava() throws Exception {
    List<String> goal = new ArrayList<>(PROPERTY);
    goal.add("exec:java");
    UserProject.Run run = project.mvn(Path.of(app()), goal.toArray(String[]::new));
    assertAppRan("exec:java", run);
  }

  /**
   * A named module that uses jpipe and its pickle codec, from the module path, with options its
   * children must have too: a module to resolve and a package to open to it.
   */
  @Test
  void modulePathWithTheUsersNamedModule() throws Exception {
    UserProject.Run run =
        project.run(
            java(
                "--enable-native-access=io.jpipe",
                "--add-modules",
                "jdk.httpserver",
                "--add-opens",
                "java.base/java.lang=com.example.modapp",
                "-p",
                modapp() + "/target/mods:" + modapp() + "/target/modapp-1.0.jar",
                "-m",
                "com.example.modapp/com.example.modapp.Main"));
    assertEquals(0, run.exitCode(), run.tail());
    List<String> results = run.output().lines().filter(l -> l.startsWith("RESULT ")).toList();
    assertEquals(
        List.of(
            "RESULT mod-1 exit=0",
            "RESULT mod-2 exit=0",
            "RESULT {color=blue, httpserver=true, module=com.example.modapp, name=mod-1,"
                + " opens=true, square=1}",
            "RESULT {color=blue, httpserver=true, module=com.example.modapp, name=mod-2,"
                + " opens=true, square=4}"),
        results,
        run.tail());
  }

  private static void assertRefused(UserProject.Run run, String what, String fix) {
    assertTrue(run.exitCode() != 0, run.tail());
    String expected =
        "Exception in thread \"main\" java.lang.IllegalCallerException: jpipe needs native access"
            + " (it calls libc through the Foreign Function & Memory API), and this JVM does not"
            + " grant it to "
            + what
            + ": "
            + fix
            + ". jpipe requires it even where the JDK would only print a warning.";
    assertTrue(run.output().contains(expected), run.tail());
    assertFalse(run.output().contains("ExceptionInInitializerError"), run.tail());
    assertFalse(run.output().contains("NoClassDefFoundError"), run.tail());
  }

  /**
   * Without native access the program fails at its first jpipe call with one exception that gives
   * the flag for its launcher; with the JDK's default (warn) and with deny alike.
   */
  @Test
  void withoutNativeAccessEachLauncherIsToldItsFlag() throws Exception {
    String cp = app() + "/target/classes:" + app() + "/target/lib/*";
    for (String mode : List.of("warn", "deny")) {
      assertRefused(
          project.run(
              java("--illegal-native-access=" + mode, "-cp", cp, "com.example.app.Main", "cp")),
          "the class path",
          "start the JVM with --enable-native-access=ALL-UNNAMED");
    }
    assertRefused(
        project.run(java("-jar", app() + "/target/app-1.0-no-native-access.jar")),
        "the class path of app-1.0-no-native-access.jar, run by java -jar",
        "add the manifest entry 'Enable-Native-Access: ALL-UNNAMED' to"
            + " app-1.0-no-native-access.jar, or start it with java"
            + " --enable-native-access=ALL-UNNAMED -jar app-1.0-no-native-access.jar");
    assertRefused(
        project.run(
            java(
                "-p",
                modapp() + "/target/mods:" + modapp() + "/target/modapp-1.0.jar",
                "-m",
                "com.example.modapp/com.example.modapp.Main")),
        "module io.jpipe",
        "start the JVM with --enable-native-access=io.jpipe");
  }
}
