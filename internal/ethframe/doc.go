// Package ethframe builds and parses the raw Ethernet frames of UDP
// datagrams that tests send over AF_PACKET sockets with a source address
// of their choosing: the proof that Ward's anti-spoofing drops forged
// frames (package lab, and the Docker test server of package dockerinv).
// It is hand-written because a frame of fixed layout is a few dozen lines,
// and no well-kept library builds them without cgo (gopacket needs
// libpcap for capture, which the tests do with plain sockets).
package ethframe
