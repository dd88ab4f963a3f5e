package io.jpipe.pickle;

/**
 * The pickle codec against CPython 3.13 when installed (pyenv or PATH); skipped, and said so in the
 * test output, when not.
 */
class CPython313InteropTest extends CPythonInteropContract {
  @Override
  String minor() {
    return "3.13";
  }

  @Override
  boolean required() {
    return false;
  }
}
