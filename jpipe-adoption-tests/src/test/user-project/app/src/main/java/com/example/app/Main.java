package com.example.app;

/** The application's entry point. */
public final class Main {
  private Main() {}

  /**
   * Runs the job.
   *
   * @param args the launch mode, for the report
   */
  public static void main(String[] args) throws Exception {
    System.out.println("RESULT " + Job.run(args.length > 0 ? args[0] : "unknown"));
  }
}
