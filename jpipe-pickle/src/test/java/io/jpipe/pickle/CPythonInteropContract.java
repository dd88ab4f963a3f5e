package io.jpipe.pickle;

import static io.jpipe.pickle.Values.decode;
import static io.jpipe.pickle.Values.dict;
import static io.jpipe.pickle.Values.encode;
import static io.jpipe.pickle.Values.hex;
import static io.jpipe.pickle.Values.list;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.jpipe.pickle.Cases.Case;
import java.io.IOException;
import java.io.StreamCorruptedException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.razorvine.pickle.PythonException;
import net.razorvine.pickle.objects.ClassDict;
import net.razorvine.pickle.objects.ComplexNumber;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The codec against a live CPython of one version, both ways, for every row of {@link Cases}: Java
 * encodes and CPython's {@code pickle.loads} checks value and type; CPython's {@code pickle.dumps}
 * at every protocol it has, and its Connection's own {@code send()}, are decoded and checked here.
 * One CPython process serves the whole class.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class CPythonInteropContract {
  private final PickleCodec codec = PickleCodec.create();
  private PythonProcess python;
  private String missing;

  /** The CPython version, such as "3.11". */
  abstract String minor();

  /** Whether a missing interpreter fails the class (true) or skips it. */
  abstract boolean required();

  @BeforeAll
  void startPython() throws IOException {
    Optional<PythonProcess> started = PythonProcess.start(minor());
    if (started.isEmpty()) {
      missing =
          "CPython "
              + minor()
              + " is not installed (pyenv versions --bare lists no "
              + minor()
              + ".x, and neither python"
              + minor()
              + " nor python3 on PATH is "
              + minor()
              + ")";
      if (required()) {
        fail(missing + "; it is required");
      }
      System.out.println(missing + ": its pickle interop tests are skipped");
      return;
    }
    python = started.get();
    System.out.println("pickle interop tests run against " + python);
  }

  @BeforeEach
  void skipIfMissing() {
    Assumptions.assumeTrue(missing == null, () -> missing + ": skipped");
  }

  @AfterAll
  void stopPython() throws IOException {
    if (python != null) {
      python.close();
    }
  }

  private static void assertNoFailures(List<String> failures) {
    if (!failures.isEmpty()) {
      fail(failures.size() + " failed:\n" + String.join("\n", failures));
    }
  }

  @Test
  void javaPicklesLoadInCPythonWithTheTablesTypes() throws IOException {
    List<String> failures = new ArrayList<>();
    for (Case c : Cases.all()) {
      if (c.encodes()) {
        try {
          python.check(c.python(), encode(codec, c.java()));
        } catch (AssertionError e) {
          failures.add(e.getMessage());
        }
      }
    }
    assertNoFailures(failures);
  }

  @Test
  void cpythonPicklesOfEveryProtocolDecodeToTheTablesTypes() throws IOException {
    assertTrue(python.highestProtocol >= 5, "CPython 3.8+ writes protocol 5");
    List<String> failures = new ArrayList<>();
    for (int protocol = 0; protocol <= python.highestProtocol; protocol++) {
      for (Case c : Cases.all()) {
        String where = "protocol " + protocol + ", " + c;
        try {
          String d =
              Values.difference(
                  c.decoded(), decode(codec, python.dumps(protocol, c.python())), where);
          if (d != null) {
            failures.add(d);
          }
        } catch (IOException e) {
          failures.add(where + ": " + e);
        }
      }
    }
    assertNoFailures(failures);
  }

  @Test
  void cpythonConnectionRecvAndSendRoundTripJavaPickles() throws IOException {
    List<String> failures = new ArrayList<>();
    for (Case c : Cases.all()) {
      if (c.encodes()) {
        String d =
            Values.difference(
                c.decoded(), decode(codec, python.echo(encode(codec, c.java()))), c.toString());
        if (d != null) {
          failures.add(d);
        }
      }
    }
    assertNoFailures(failures);
  }

  @Test
  void goldenBytesAreCPythons() throws IOException {
    byte[] golden = hex("80 04 95 04 00 00 00 00 00 00 00 4d c1 06 2e");
    assertArrayEquals(golden, python.dumps(4, "1729"));
    assertEquals(1729, decode(codec, golden));
    assertArrayEquals(hex("80 04 4e 2e"), python.dumps(4, "None"));
    // What this codec writes is CPython's pickle without the (optional) frame.
    assertArrayEquals(hex("80 04 4d c1 06 2e"), encode(codec, 1729));
    python.check("1729", encode(codec, 1729));
  }

  @Test
  void sharedAndSelfContainingContainersKeepTheirShape() throws IOException {
    List<Object> inner = list(1);
    python.assertThat("x[0] is x[1] and x[0] == [1]", encode(codec, list(inner, inner)));
    List<Object> selfList = list();
    selfList.add(selfList);
    python.assertThat("type(x) is list and len(x) == 1 and x[0] is x", encode(codec, selfList));
    Map<Object, Object> selfDict = dict("n", 1);
    selfDict.put("me", selfDict);
    python.assertThat("list(x) == ['n', 'me'] and x['me'] is x", encode(codec, selfDict));

    for (int protocol = 0; protocol <= python.highestProtocol; protocol++) {
      List<?> l =
          (List<?>) decode(codec, python.exec(protocol, "a = [7]; a.append(a); result = a"));
      assertEquals(7, l.get(0));
      assertSame(l, l.get(1), "protocol " + protocol);
      List<?> shared = (List<?>) decode(codec, python.exec(protocol, "b = [1]; result = [b, b]"));
      assertSame(shared.get(0), shared.get(1), "protocol " + protocol);
      Map<?, ?> d =
          (Map<?, ?>) decode(codec, python.exec(protocol, "d = {}; d['me'] = d; result = d"));
      assertSame(d, d.get("me"), "protocol " + protocol);
    }
  }

  @Test
  void unpairedSurrogatesDoNotSurvive() throws IOException {
    assertEquals("a?b", decode(codec, encode(codec, "a\uD800b")));
    python.check("'a?b'", encode(codec, "a\uD800b"));
    assertEquals("a\uFFFDb", decode(codec, python.dumps(4, "'a\\ud800b'")));
  }

  @Test
  void otherPythonValuesDecodeAsRazorvineMapsThem() throws IOException {
    for (int protocol = 0; protocol <= python.highestProtocol; protocol++) {
      ComplexNumber z =
          assertInstanceOf(
              ComplexNumber.class, decode(codec, python.dumps(protocol, "complex(1, -2)")));
      assertEquals(1.0, z.getReal());
      assertEquals(-2.0, z.getImaginary());
      assertEquals(
          new BigDecimal("1.25"),
          decode(codec, python.dumps(protocol, "__import__('decimal').Decimal('1.25')")));
      ClassDict ns =
          assertInstanceOf(
              ClassDict.class,
              decode(
                  codec,
                  python.dumps(protocol, "__import__('types').SimpleNamespace(a=1, b='x')")));
      assertEquals("types.SimpleNamespace", ns.getClassName());
      assertEquals(1, ns.get("a"));
      assertEquals("x", ns.get("b"));
      PythonException e =
          assertInstanceOf(
              PythonException.class, decode(codec, python.dumps(protocol, "ValueError('bad')")));
      assertTrue(e.getMessage().contains("bad"), e.getMessage());
    }
  }

  @Test
  void aReduceToAnUnknownCallableIsRefusedNotCalled() throws IOException {
    String code =
        """
        import os
        class Exploit:
            def __reduce__(self):
                return (os.system, ('exit 3',))
        result = Exploit()""";
    for (int protocol = 0; protocol <= python.highestProtocol; protocol++) {
      byte[] pickle = python.exec(protocol, code);
      StreamCorruptedException e =
          assertThrows(StreamCorruptedException.class, () -> decode(codec, pickle));
      assertTrue(e.getMessage().contains("system"), e.getMessage());
    }
  }
}
