package io.jpipe.pickle;

/**
 * The pickle codec against CPython 3.12 when installed (pyenv or PATH); skipped, and said so in the
 * test output, when not.
 */
class CPython312InteropTest extends CPythonInteropContract {
  @Override
  String minor() {
    return "3.12";
  }

  @Override
  boolean required() {
    return false;
  }
}
