package io.jpipe.pickle;

/**
 * The pickle codec against CPython 3.11, which every machine that runs these tests has: a missing
 * 3.11 fails.
 */
class CPython311InteropTest extends CPythonInteropContract {
  @Override
  String minor() {
    return "3.11";
  }

  @Override
  boolean required() {
    return true;
  }
}
