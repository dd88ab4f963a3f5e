package io.jpipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The version a newcomer copies from the README (Maven and Gradle snippets, jar names in commands)
 * and from the Javadoc overview is the version the poms build, so a release cannot ship a snippet
 * that names another one. The build passes the poms' version as {@code jpipe.test.version}.
 */
class DocumentedVersionTest {
  private static final Pattern MAVEN =
      Pattern.compile(
          "<groupId>io\\.jpipe</groupId>\\s*<artifactId>(jpipe-[a-z]+)</artifactId>\\s*"
              + "<version>([^<]*)</version>");
  private static final Pattern GRADLE = Pattern.compile("io\\.jpipe:(jpipe-[a-z]+):([^'\"\\s)]+)");
  private static final Pattern JAR =
      Pattern.compile("(jpipe-(?:core|pickle))-(\\d[0-9A-Za-z.\\-]*?)(?:-sources|-javadoc)?\\.jar");

  private static String pomVersion() {
    String version = System.getProperty("jpipe.test.version");
    assertNotNull(version, "run through Maven: the pom passes its version as jpipe.test.version");
    return version;
  }

  /** Every version named by the pattern's second group, with what named it. */
  private static List<String[]> versions(String text, Pattern pattern) {
    List<String[]> found = new ArrayList<>();
    Matcher m = pattern.matcher(text);
    while (m.find()) {
      found.add(new String[] {m.group(), m.group(2)});
    }
    return found;
  }

  private static void assertAllName(String version, List<String[]> found, String where) {
    for (String[] f : found) {
      assertEquals(version, f[1], where + ": '" + f[0] + "' does not name the pom's version");
    }
  }

  @Test
  void readmeSnippetsNameThePomVersion() throws IOException {
    String version = pomVersion();
    String readme = Files.readString(Path.of("..", "README.md"));
    List<String[]> maven = versions(readme, MAVEN);
    List<String[]> gradle = versions(readme, GRADLE);
    List<String[]> jars = versions(readme, JAR);
    // The section "Use jpipe in your project" has a Maven snippet for jpipe-core and jpipe-pickle,
    // their Gradle lines, and commands that name the jars.
    assertTrue(maven.size() >= 2, "README: Maven snippets for jpipe-core and jpipe-pickle");
    assertTrue(gradle.size() >= 2, "README: Gradle lines for jpipe-core and jpipe-pickle");
    assertTrue(!jars.isEmpty(), "README: a command naming jpipe-core's jar");
    assertAllName(version, maven, "README.md");
    assertAllName(version, gradle, "README.md");
    assertAllName(version, jars, "README.md");
  }

  @Test
  void javadocOverviewNamesThePomVersion() throws IOException {
    String version = pomVersion();
    String overview = Files.readString(Path.of("src", "main", "javadoc", "overview.html"));
    // In the overview the snippet sits in {@code ...}, so its tags are literal text as here.
    List<String[]> maven = versions(overview, MAVEN);
    assertEquals(2, maven.size(), "overview.html: Maven snippets for jpipe-core and jpipe-pickle");
    assertAllName(version, maven, "overview.html");
    assertAllName(version, versions(overview, JAR), "overview.html");
  }
}
