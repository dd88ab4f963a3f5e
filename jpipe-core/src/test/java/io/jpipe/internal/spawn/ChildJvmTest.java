package io.jpipe.internal.spawn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What a child JVM is given so that it sees what its parent sees. */
class ChildJvmTest {
  @Test
  void moduleAndAccessOptionsArePassedOnButNotOtherOptions() {
    List<String> jvm =
        List.of(
            "-Xmx1g",
            "--add-modules=java.sql",
            "-Dsecret=1",
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
            "--add-reads=a=b",
            "--enable-native-access=ALL-UNNAMED",
            "--illegal-native-access=deny",
            "--limit-modules=java.base,java.sql",
            "--upgrade-module-path=/up",
            "--patch-module=java.sql=/patch",
            "--sun-misc-unsafe-memory-access=allow",
            "--enable-preview",
            "-XX:+UseG1GC",
            "-javaagent:x.jar");
    assertEquals(
        jvm.stream().filter(o -> o.startsWith("--")).toList(), ChildJvm.passedOn(jvm, null, null));
  }

  @Test
  void optionsTheChildGetsFromItsEnvironmentAreNotGivenTwice() {
    // --patch-module may not be given twice for one module: the JVM refuses to start
    List<String> jvm =
        List.of(
            "--patch-module=java.sql=/p",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-opens=java.base/java.io=ALL-UNNAMED",
            "--add-modules=java.sql",
            "--enable-preview");
    assertEquals(
        List.of("--add-opens=java.base/java.io=ALL-UNNAMED", "--add-modules=java.sql"),
        ChildJvm.passedOn(
            jvm,
            "--patch-module java.sql=/p  '--add-opens' java.base/java.io=ALL-UNNAMED",
            "--enable-preview"));
  }

  /** Where the JVM cannot report its arguments (no java.management), the launcher's are read. */
  @Test
  void withoutTheRuntimeBeanTheLaunchersArgumentsAreRead() {
    assertEquals(
        List.of(
            "--add-opens=java.base/java.lang=ALL-UNNAMED",
            "--add-modules=java.sql",
            "--limit-modules=java.base,java.sql",
            "--enable-native-access=ALL-UNNAMED"),
        ChildJvm.fromLauncher(
            new String[] {
              "-Xmx1g",
              "--add-opens",
              "java.base/java.lang=ALL-UNNAMED",
              "-cp",
              "a.jar:--add-modules=x",
              "--add-modules=java.sql",
              "--limit-modules",
              "java.base,java.sql",
              "-Dx=y",
              "--enable-native-access=ALL-UNNAMED",
              "com.example.Main",
              "--add-opens",
              "the program's own argument"
            }));
    assertEquals(
        List.of("--enable-preview"),
        ChildJvm.fromLauncher(new String[] {"--enable-preview", "-jar", "app.jar", "--add-reads"}));
  }

  @Test
  void optionVariablesAreSplitAsTheLauncherDoes() {
    assertEquals(
        List.of("-Da=b c", "--x", "", "-Dq=it's"),
        ChildJvm.words("  \"-Da=b c\"\t--x '' \"-Dq=it's\" "));
  }

  @Test
  void listedPropertiesAreInheritedWithTheirCurrentValues() {
    String before = System.getProperty(ChildJvm.INHERIT_PROPERTIES);
    try {
      System.setProperty("jpipe.test.color", "blue");
      System.setProperty("jpipe.test.size.w", "1");
      System.setProperty("jpipe.test.size.h", "2 px");
      String spec = "jpipe.test.color, jpipe.test.size.*,jpipe.test.missing,";
      System.setProperty(ChildJvm.INHERIT_PROPERTIES, spec);
      assertEquals(
          List.of(
              "-Djpipe.child.inheritProperties=" + spec,
              "-Djpipe.test.color=blue",
              "-Djpipe.test.size.h=2 px",
              "-Djpipe.test.size.w=1"),
          ChildJvm.properties());
      assertTrue(ChildJvm.standard().options().containsAll(ChildJvm.properties()));
      System.clearProperty(ChildJvm.INHERIT_PROPERTIES);
      assertEquals(List.of(), ChildJvm.properties());
    } finally {
      System.clearProperty("jpipe.test.color");
      System.clearProperty("jpipe.test.size.w");
      System.clearProperty("jpipe.test.size.h");
      if (before != null) {
        System.setProperty(ChildJvm.INHERIT_PROPERTIES, before);
      }
    }
  }

  @Test
  void theParentsOwnClassesNeedTheParentsClassPath() throws Exception {
    ChildJvm jvm = ChildJvm.forClasses(Set.of(ChildJvmTest.class, String.class, List.class));
    assertSame(ChildJvm.standard(), jvm);
    assertTrue(jvm.isStandard());
  }

  /**
   * A class from an isolated URLClassLoader (as mvn exec:java runs a program) brings that loader's
   * class path; the parent's is not added when the loader does not delegate to it.
   */
  @Test
  void aClassFromAnIsolatedLoaderBringsItsLoadersClassPath() throws Exception {
    List<URL> urls = new java.util.ArrayList<>();
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      if (e.isEmpty()) {
        continue;
      }
      urls.add(Path.of(e).toUri().toURL());
    }
    try (URLClassLoader isolated =
        new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader())) {
      Class<?> c = isolated.loadClass(ChildJvmTest.class.getName());
      assertFalse(c == ChildJvmTest.class);
      ChildJvm jvm = ChildJvm.forClasses(Set.of(c));
      assertFalse(jvm.isStandard());
      List<String> options = jvm.options();
      String cp = options.get(options.indexOf("-cp") + 1);
      assertEquals(
          urls.stream().map(u -> Path.of(java.net.URI.create(u.toString())).toString()).toList(),
          List.of(cp.split(File.pathSeparator)));
    }
    try (URLClassLoader child =
        new URLClassLoader(
            new URL[] {Path.of("/nonexistent/extra.jar").toUri().toURL()},
            ClassLoader.getSystemClassLoader())) {
      // a class the application loader has is the application loader's: nothing to add
      assertTrue(
          ChildJvm.forClasses(Set.of(child.loadClass(ChildJvmTest.class.getName()))).isStandard());
    }
  }

  @Test
  void aClassPathChildStartsChildMainByName() {
    assertEquals(List.of(ChildMain.class.getName()), ChildJvm.main(ChildMain.class));
    List<String> options = ChildJvm.standard().options();
    assertEquals("--enable-native-access=ALL-UNNAMED", options.get(0));
    assertEquals(System.getProperty("java.class.path"), options.get(options.indexOf("-cp") + 1));
  }
}
