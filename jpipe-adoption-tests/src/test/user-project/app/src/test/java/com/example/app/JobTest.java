package com.example.app;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class JobTest {
  @Test
  void childrenRunUnderTheTestRunner() throws Exception {
    String mode = System.getProperty("adoption.runner", "surefire");
    String line = Job.run(mode);
    System.out.println("RESULT " + line);
    assertEquals(
        "mode="
            + mode
            + " children=4 sum=8955055 names=[lambda, worker-0, worker-1, worker-2] exit=[0]"
            + " opens=true color=blue",
        line);
  }
}
