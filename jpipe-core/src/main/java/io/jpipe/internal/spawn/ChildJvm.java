package io.jpipe.internal.spawn;

import io.jpipe.ChildProcess;
import io.jpipe.ProcessStartException;
import io.jpipe.internal.ThisJvm;
import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * The part of a child's command line that makes its JVM see what the parent's sees: the class path,
 * the module path and the modules the parent resolved from it, the parent's module and access
 * options, and the system properties the user asked to pass on.
 *
 * <ul>
 *   <li><b>Class path.</b> The parent's ({@code java.class.path}) when every class the task needs
 *       comes from the application class loader or the boot layer; that covers {@code java -cp},
 *       {@code java -jar} (the child runs the same jar, whose manifest {@code Class-Path} the JVM
 *       follows), shaded jars and Surefire's forks. A class from another loader, such as the one
 *       {@code mvn exec:java} runs the program in inside Maven's own JVM, brings that loader's
 *       class path: the URLs of each {@link URLClassLoader} up to the application class loader, or
 *       the class's own jar or directory. A class that no file holds (defined from bytes, or in a
 *       module layer of its own) cannot reach a child: {@link #forClasses} says so at once.
 *   <li><b>Modules.</b> The parent's module path, and as roots the modules the parent resolved from
 *       it (not every module on it: a directory of jars may hold modules that do not resolve
 *       together).
 *   <li><b>Options.</b> The parent's {@code --add-modules}, {@code --add-opens}, {@code
 *       --add-exports}, {@code --add-reads}, {@code --enable-native-access}, {@code
 *       --illegal-native-access}, {@code --limit-modules}, {@code --upgrade-module-path}, {@code
 *       --patch-module}, {@code --sun-misc-unsafe-memory-access} and {@code --enable-preview}, as
 *       the JVM saw them (command line, {@code @argfiles}, {@code JDK_JAVA_OPTIONS}), less those
 *       the child gets anyway from the environment it inherits ({@code JDK_JAVA_OPTIONS}, {@code
 *       JAVA_TOOL_OPTIONS}: some options may not be given twice). The {@code Add-Opens} and {@code
 *       Add-Exports} of the manifest of a jar run by {@code java -jar} become the same options.
 *   <li><b>Properties.</b> Those named in {@value #INHERIT_PROPERTIES} (comma-separated names, or
 *       prefixes ending in {@code *}), with the values they have in the parent when the child
 *       starts; and that property itself, so grandchildren get them too.
 * </ul>
 */
final class ChildJvm {
  /** The system property that lists the properties children inherit. */
  static final String INHERIT_PROPERTIES = ChildProcess.INHERIT_PROPERTIES_PROPERTY;

  /** The options passed on, as the JVM reports them ({@code --name=value}, or the bare flag). */
  private static final List<String> PASSED_ON =
      List.of(
          "--add-modules=",
          "--add-opens=",
          "--add-exports=",
          "--add-reads=",
          "--enable-native-access=",
          "--illegal-native-access=",
          "--limit-modules=",
          "--upgrade-module-path=",
          "--patch-module=",
          "--sun-misc-unsafe-memory-access=",
          "--enable-preview");

  /** The launcher options that take their value as the next word (then normalized to "="). */
  private static final Set<String> TAKES_VALUE =
      Set.of(
          "--add-modules",
          "--add-opens",
          "--add-exports",
          "--add-reads",
          "--enable-native-access",
          "--limit-modules",
          "--upgrade-module-path",
          "--patch-module");

  private static volatile List<String> parentOptions;
  private static volatile List<String> modulePathOptions;

  private static final ChildJvm STANDARD =
      new ChildJvm(System.getProperty("java.class.path", ""), true);

  /** The class path, as one string. */
  private final String classPath;

  /** Whether it is the parent's own (then warm spares and the AOT cache apply). */
  private final boolean standard;

  private ChildJvm(String classPath, boolean standard) {
    this.classPath = classPath;
    this.standard = standard;
  }

  /**
   * A child with the parent's own class path.
   *
   * @return the child JVM
   */
  static ChildJvm standard() {
    return STANDARD;
  }

  /**
   * A child that can load {@code classes} (and jpipe's own).
   *
   * @param classes the classes of the task: the target's, and every class serialized with it
   * @return the child JVM
   * @throws ProcessStartException if a class cannot be found by any child JVM
   */
  static ChildJvm forClasses(Collection<Class<?>> classes) throws ProcessStartException {
    Set<Class<?>> all = new LinkedHashSet<>(classes);
    all.add(ChildMain.class);
    ClassLoader app = ClassLoader.getSystemClassLoader();
    Set<String> entries = new LinkedHashSet<>();
    boolean reachesApp = false;
    boolean custom = false;
    for (Class<?> c : all) {
      ClassLoader loader = c.getClassLoader();
      if (c.getModule().isNamed()) {
        if (c.getModule().getLayer() != ModuleLayer.boot()) {
          throw unreachable(c, "is in a module layer that a child JVM does not have");
        }
        continue; // the boot layer: the module path, or the JDK
      }
      if (loader == null || loader == app || isAncestor(loader, app)) {
        continue; // the JDK's, or the application class loader's
      }
      custom = true;
      for (ClassLoader l = loader; l != null; l = l.getParent()) {
        if (l == app) {
          reachesApp = true;
          break;
        }
        if (isAncestor(l, app)) {
          break; // the platform class loader
        }
        if (l instanceof URLClassLoader u && addFiles(u.getURLs(), entries)) {
          continue;
        }
        entries.add(codeSource(c));
        break; // a loader that does not list its class path: the class's own file is all we know
      }
    }
    if (!custom) {
      return STANDARD;
    }
    if (reachesApp) {
      for (String e : STANDARD.classPath.split(File.pathSeparator)) {
        if (!e.isEmpty()) {
          entries.add(e);
        }
      }
    }
    return new ChildJvm(String.join(File.pathSeparator, entries), false);
  }

  private static boolean isAncestor(ClassLoader candidate, ClassLoader of) {
    for (ClassLoader l = of.getParent(); l != null; l = l.getParent()) {
      if (l == candidate) {
        return true;
      }
    }
    return false;
  }

  /** Adds the files that {@code urls} name; false if one is not a file (then none is added). */
  private static boolean addFiles(URL[] urls, Set<String> entries) {
    List<String> files = new ArrayList<>();
    for (URL u : urls) {
      if (!"file".equals(u.getProtocol())) {
        return false;
      }
      try {
        files.add(Path.of(u.toURI()).toString());
      } catch (URISyntaxException | IllegalArgumentException e) {
        return false;
      }
    }
    entries.addAll(files);
    return true;
  }

  private static String codeSource(Class<?> c) throws ProcessStartException {
    CodeSource source = c.getProtectionDomain().getCodeSource();
    URL url = source == null ? null : source.getLocation();
    if (url == null || !"file".equals(url.getProtocol())) {
      throw unreachable(
          c, "was loaded by " + c.getClassLoader() + ", and no jar or directory holds it");
    }
    try {
      return Path.of(url.toURI()).toString();
    } catch (URISyntaxException | IllegalArgumentException e) {
      throw unreachable(c, "comes from " + url + ", which is not a file a child JVM can load");
    }
  }

  private static ProcessStartException unreachable(Class<?> c, String why) {
    return new ProcessStartException(
        "a child JVM cannot load "
            + c.getName()
            + ", which the task needs: it "
            + why
            + ". Put it in a jar or directory on the class path (or a module on the module path)"
            + " and start the program with java, or pass only classes from there to the child");
  }

  /**
   * Whether this is the parent's own class path: warm spares and the AOT cache, prepared without
   * knowing the task, apply only then.
   *
   * @return true for the parent's class path
   */
  boolean isStandard() {
    return standard;
  }

  /**
   * The options that come before the user's: native access, class path, module path and root
   * modules, the parent's module and access options, the inherited properties.
   *
   * @return the options
   */
  List<String> options() {
    List<String> cmd = new ArrayList<>();
    Module jpipe = ChildMain.class.getModule();
    cmd.add(
        "--enable-native-access=" + (jpipe.isNamed() ? jpipe.getName() + "," : "") + "ALL-UNNAMED");
    if (!classPath.isEmpty()) {
      cmd.add("-cp");
      cmd.add(classPath);
    }
    cmd.addAll(modulePathOptions());
    cmd.addAll(parentOptions());
    cmd.addAll(properties());
    return cmd;
  }

  /**
   * Options every child JVM gets before the user's (which come after, so they win): the serial
   * collector (a small heap starts and idles cheaper), and no performance-data file (it costs
   * start-up time and is left in /tmp/hsperfdata_USER when a child is killed).
   */
  static final List<String> DEFAULT_JVM_OPTIONS = List.of("-XX:+UseSerialGC", "-XX:-UsePerfData");

  /**
   * The command line of a child with this class path: this JVM's java, what the child needs of the
   * parent, the AOT cache when there is one (only for the parent's own class path), the user's
   * options, then {@link ChildMain} and its arguments.
   *
   * @param jvmOptions the user's options
   * @param mainArgs {@link ChildMain}'s arguments
   * @return the command line
   */
  List<String> command(List<String> jvmOptions, String... mainArgs) {
    List<String> cmd = new ArrayList<>();
    cmd.add(javaExecutable());
    cmd.addAll(DEFAULT_JVM_OPTIONS);
    cmd.addAll(options());
    if (standard) {
      cmd.addAll(AotCache.options(jvmOptions));
    }
    cmd.addAll(jvmOptions);
    cmd.addAll(main(ChildMain.class));
    cmd.addAll(List.of(mainArgs));
    return cmd;
  }

  /** This JVM's {@code java}, which children run. */
  static String javaExecutable() {
    return Path.of(System.getProperty("java.home"), "bin", "java").toString();
  }

  /**
   * How the child names its main class: {@code -m io.jpipe/CLASS} when jpipe is a named module,
   * else the class name.
   *
   * @param main the main class
   * @return the words
   */
  static List<String> main(Class<?> main) {
    Module jpipe = main.getModule();
    return jpipe.isNamed()
        ? List.of("-m", jpipe.getName() + "/" + main.getName())
        : List.of(main.getName());
  }

  /** The parent's module path, and the modules it resolved from it as the child's roots. */
  static List<String> modulePathOptions() {
    List<String> options = modulePathOptions;
    if (options == null) {
      String modulePath = System.getProperty("jdk.module.path", "");
      List<String> roots = new ArrayList<>();
      for (var m : ModuleLayer.boot().configuration().modules()) {
        if (!m.reference().location().map(u -> "jrt".equals(u.getScheme())).orElse(true)) {
          roots.add(m.name());
        }
      }
      roots.sort(null);
      List<String> cmd = new ArrayList<>();
      if (!modulePath.isEmpty()) {
        cmd.addAll(List.of("--module-path", modulePath));
        if (!roots.isEmpty()) {
          cmd.add("--add-modules=" + String.join(",", roots));
        }
      }
      options = List.copyOf(cmd);
      modulePathOptions = options; // the boot layer never changes
    }
    return options;
  }

  /**
   * The parent's module and access options that the child does not get from its environment anyway,
   * and those of the manifest of a jar run by {@code java -jar}; read once.
   *
   * @return the options
   */
  static List<String> parentOptions() {
    List<String> options = parentOptions;
    if (options == null) {
      List<String> found = new ArrayList<>();
      if (ModuleLayer.boot().findModule("java.management").isPresent()) {
        found.addAll(
            passedOn(
                ManagementFactory.getRuntimeMXBean().getInputArguments(),
                System.getenv("JDK_JAVA_OPTIONS"),
                System.getenv("JAVA_TOOL_OPTIONS")));
      } else {
        // --limit-modules, or a jlinked runtime, without java.management (jpipe on the class
        // path): the launcher's own arguments, which miss only @argfiles
        ProcessHandle.current().info().arguments().ifPresent(a -> found.addAll(fromLauncher(a)));
      }
      ThisJvm.executableJar().ifPresent(jar -> found.addAll(manifestOptions(jar)));
      options = List.copyOf(found);
      parentOptions = options;
    }
    return options;
  }

  /**
   * The options to pass on among a {@code java} launcher's arguments (those before the main class),
   * as the JVM would report them. Environment variables are not among them: the child gets them
   * anyway.
   *
   * @param args the launcher's arguments, without the program
   * @return the options, in order
   */
  static List<String> fromLauncher(String[] args) {
    List<String> jvm = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("-")
          || a.equals("-jar")
          || a.equals("-m")
          || a.equals("--module")
          || a.startsWith("--module=")
          || a.equals("--source")) {
        break; // the main class, jar or module: the program's own arguments follow
      }
      if (TAKES_VALUE.contains(a) && i + 1 < args.length) {
        jvm.add(a + "=" + args[++i]);
      } else if (Set.of("-cp", "-classpath", "--class-path", "-p", "--module-path").contains(a)) {
        i++; // the class or module path, which the child gets another way
      } else {
        jvm.add(a);
      }
    }
    return passedOn(jvm);
  }

  /**
   * The options among {@code jvmArguments} that a child must have too, less one occurrence of each
   * option the child's environment gives it ({@code envOptions}, as the variables hold them).
   *
   * @param jvmArguments the JVM's input arguments
   * @param envOptions the values of {@code JDK_JAVA_OPTIONS} and {@code JAVA_TOOL_OPTIONS} (null
   *     when unset)
   * @return the options, in order
   */
  static List<String> passedOn(List<String> jvmArguments, String... envOptions) {
    List<String> fromEnv = new ArrayList<>();
    for (String env : envOptions) {
      if (env != null) {
        fromEnv.addAll(normalize(words(env)));
      }
    }
    List<String> out = new ArrayList<>();
    for (String a : jvmArguments) {
      if (PASSED_ON.stream().noneMatch(p -> p.endsWith("=") ? a.startsWith(p) : a.equals(p))) {
        continue;
      }
      if (!fromEnv.remove(a)) {
        out.add(a);
      }
    }
    return out;
  }

  /** {@code --add-opens x} as {@code --add-opens=x}, as the JVM reports its arguments. */
  private static List<String> normalize(List<String> words) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (TAKES_VALUE.contains(w) && i + 1 < words.size()) {
        out.add(w + "=" + words.get(++i));
      } else {
        out.add(w);
      }
    }
    return out;
  }

  /** Splits an options variable as the launcher does: on white space, outside quotes. */
  static List<String> words(String s) {
    List<String> words = new ArrayList<>();
    StringBuilder word = null;
    char quote = 0;
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (quote != 0) {
        if (ch == quote) {
          quote = 0;
        } else {
          word.append(ch);
        }
      } else if (ch == '"' || ch == '\'') {
        quote = ch;
        word = word == null ? new StringBuilder() : word;
      } else if (Character.isWhitespace(ch)) {
        if (word != null) {
          words.add(word.toString());
          word = null;
        }
      } else {
        word = word == null ? new StringBuilder() : word;
        word.append(ch);
      }
    }
    if (word != null) {
      words.add(word.toString());
    }
    return words;
  }

  /**
   * The manifest's {@code Add-Opens} and {@code Add-Exports}, as options for the unnamed module.
   */
  static List<String> manifestOptions(Path jar) {
    List<String> out = new ArrayList<>();
    try (JarFile f = new JarFile(jar.toFile())) {
      Manifest m = f.getManifest();
      if (m == null) {
        return out;
      }
      Attributes main = m.getMainAttributes();
      for (String[] kind :
          new String[][] {{"Add-Opens", "--add-opens="}, {"Add-Exports", "--add-exports="}}) {
        String value = main.getValue(kind[0]);
        if (value != null) {
          for (String pkg : words(value)) {
            out.add(kind[1] + pkg + "=ALL-UNNAMED");
          }
        }
      }
    } catch (IOException e) {
      // the JVM read this jar to start: if it cannot be read now, the child will say so
    }
    return out;
  }

  /** {@code -Dname=value} for each inherited property the parent has now. */
  static List<String> properties() {
    String spec = System.getProperty(INHERIT_PROPERTIES, "");
    if (spec.isBlank()) {
      return List.of();
    }
    Map<String, String> chosen = new TreeMap<>();
    chosen.put(INHERIT_PROPERTIES, spec);
    for (String name : spec.split(",")) {
      String n = name.strip();
      if (n.isEmpty()) {
        continue;
      }
      if (n.endsWith("*")) {
        String prefix = n.substring(0, n.length() - 1);
        for (String p : System.getProperties().stringPropertyNames()) {
          if (p.startsWith(prefix)) {
            String value = System.getProperty(p);
            if (value != null) {
              chosen.put(p, value);
            }
          }
        }
      } else {
        String value = System.getProperty(n);
        if (value != null) {
          chosen.put(n, value);
        }
      }
    }
    List<String> out = new ArrayList<>();
    chosen.forEach((k, v) -> out.add("-D" + k + "=" + v));
    return out;
  }
}
