package io.jpipe.internal.jfr;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** {@code io.jpipe.ConnectionClose}: one connection end was closed, with its traffic. */
@Name("io.jpipe.ConnectionClose")
@Label("Connection Close")
@Category("jpipe")
@Description(
    "A connection end was closed (by close(), an interrupt, a bad message length or the garbage"
        + " collector): the messages and payload bytes this process sent and received on it")
@StackTrace(false)
final class ConnectionCloseEvent extends jdk.jfr.Event {
  @Label("File Descriptor")
  @Description("The descriptor the end had while open")
  int fd;

  @Label("Kind")
  @Description("socket (a duplex pipe, or a Listener's or Client's connection) or pipe")
  String kind;

  @Label("Direction")
  @Description("duplex, receive-only or send-only")
  String direction;

  @Label("Messages Sent")
  long messagesSent;

  @Label("Bytes Sent")
  @Description("Payload bytes of the messages sent, not counting the frame headers")
  @DataAmount
  long bytesSent;

  @Label("Messages Received")
  long messagesReceived;

  @Label("Bytes Received")
  @Description("Payload bytes of the messages received, not counting the frame headers")
  @DataAmount
  long bytesReceived;
}
