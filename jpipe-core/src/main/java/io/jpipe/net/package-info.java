/**
 * Connections over Unix and TCP sockets that speak CPython's {@code multiprocessing.connection}
 * protocol byte for byte: {@link io.jpipe.net.Listener} accepts, {@link io.jpipe.net.Client}
 * connects, {@link io.jpipe.net.Address} names a socket path, a Linux abstract name or a TCP host
 * and port. Either side may be a CPython process; with a key both authenticate each other with
 * CPython's HMAC challenge, and a failure is an {@link io.jpipe.net.AuthenticationException}.
 */
package io.jpipe.net;
