package com.example.modapp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Runs in the module (Surefire patches the test classes into it, on the module path). */
class MainTest {
  @Test
  void childrenRunFromAPatchedModule() throws Exception {
    assertEquals("com.example.modapp", MainTest.class.getModule().getName());
    List<String> lines = Main.run();
    lines.forEach(l -> System.out.println("RESULT surefire " + l));
    assertEquals(
        List.of(
            "mod-1 exit=0",
            "mod-2 exit=0",
            "{color=blue, httpserver=true, module=com.example.modapp, name=mod-1, opens=true,"
                + " square=1}",
            "{color=blue, httpserver=true, module=com.example.modapp, name=mod-2, opens=true,"
                + " square=4}"),
        lines);
  }
}
