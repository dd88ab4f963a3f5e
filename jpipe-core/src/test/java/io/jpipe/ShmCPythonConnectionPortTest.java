package io.jpipe;

/**
 * CPython's {@code _TestConnection} and {@code _TestPoll} ports on shared-memory pipes (a 64 KiB
 * ring, so test_connection's 16 MiB message streams through it).
 */
class ShmCPythonConnectionPortTest extends CPythonConnectionPortTest {
  @Override
  Pipe pipe(boolean duplex) throws java.io.IOException {
    return Pipe.builder().duplex(duplex).sharedMemory(64 * 1024).open();
  }
}
