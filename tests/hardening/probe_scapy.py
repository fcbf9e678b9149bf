#!/usr/bin/python3
"""Black-box TCP probes against the stack, run by probe_test.ts inside a network namespace.

The probes come from an address the Linux kernel does not own (so it never answers the stack's
segments with its own RSTs): an ARP request from that address teaches the stack where it lives.
Prints one JSON object with the outcome of each probe. Every loop is bounded by a timeout.
"""

import json
import random
import socket
import struct
import sys
import threading
import time

from scapy.all import ARP, AsyncSniffer, Ether, IP, Raw, TCP, checksum, conf, get_if_hwaddr, sendp, srp1

conf.verb = 0

iface, stack_ip, src_ip, port, closed_port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(int(sys.argv[6]) if len(sys.argv) > 6 else 1)
my_mac = get_if_hwaddr(iface)
results = {}

# Teach the stack our address (a request addressed to it creates the entry), learn its MAC.
answer = srp1(Ether(dst="ff:ff:ff:ff:ff:ff", src=my_mac) / ARP(op=1, hwsrc=my_mac, psrc=src_ip, pdst=stack_ip),
              iface=iface, timeout=3)
if answer is None:
    print(json.dumps({"error": "no ARP answer from the stack"}))
    sys.exit(1)
stack_mac = answer[ARP].hwsrc
eth = Ether(src=my_mac, dst=stack_mac)


def ip():
    return IP(src=src_ip, dst=stack_ip)


def sport():
    return rng.randint(20000, 60000)


def ask(segment, timeout=2.0):
    """Sends one segment and returns the first TCP answer, or None."""
    reply = srp1(eth / ip() / segment, iface=iface, timeout=timeout)
    if reply is None or TCP not in reply:
        return None
    return reply


def start_sniffer(sp, timeout=None):
    """Starts capturing what the stack sends to port `sp`, and returns once the capture runs."""
    ready = threading.Event()
    sniffer = AsyncSniffer(iface=iface, timeout=timeout, started_callback=ready.set,
                           lfilter=lambda p: TCP in p and p[IP].src == stack_ip and p[TCP].dport == sp)
    sniffer.start()
    ready.wait(5)
    return sniffer


def silent(frame, dport, sp, timeout=1.5):
    """Sends a frame and reports whether the stack stayed silent towards that port pair."""
    sniffer = start_sniffer(sp)
    sendp(frame, iface=iface)
    time.sleep(timeout)
    got = sniffer.stop()
    return len(got) == 0


def raw_tcp(sp, dp, seq, flag_bits, opts):
    """A TCP header with `opts` as raw option bytes (padded to 4), its checksum right."""
    opts = opts + b"\x00" * (-len(opts) % 4)
    words = 5 + len(opts) // 4
    header = struct.pack("!HHIIBBHHH", sp, dp, seq, 0, words << 4, flag_bits, 65535, 0, 0) + opts
    pseudo = socket.inet_aton(src_ip) + socket.inet_aton(stack_ip) + struct.pack("!BBH", 0, 6, len(header))
    c = checksum(pseudo + header)
    return header[:16] + struct.pack("!H", c) + header[18:]


def collect(frame, sp, timeout=1.0):
    """Sends a frame and returns the first segment the stack sends to port `sp` within `timeout`."""
    sniffer = start_sniffer(sp)
    sendp(frame, iface=iface)
    time.sleep(timeout)
    got = sniffer.stop()
    return got[0] if len(got) > 0 else None


def flags(p):
    return str(p[TCP].flags)


def options(p):
    return {k: v for k, v in p[TCP].options if k in ("MSS", "WScale", "SAckOK", "Timestamp")}


# 1. Handshake with options.
sp = sport()
isn = rng.randint(0, 2**32 - 1)
syn = TCP(sport=sp, dport=port, flags="S", seq=isn, window=64240,
          options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (12345, 0)), ("NOP", None), ("WScale", 7)])
sa = ask(syn)
results["handshake"] = None if sa is None else {
    "flags": flags(sa), "ack_ok": sa[TCP].ack == (isn + 1) % 2**32, "options": str(options(sa)), "isn": sa[TCP].seq}

# 2. Data acknowledged and echoed, then 3. close completes.
if sa is not None:
    ts_stack = dict(sa[TCP].options).get("Timestamp", (0, 0))[0]
    seq = isn + 1
    ack = sa[TCP].seq + 1
    opts = [("NOP", None), ("NOP", None), ("Timestamp", (12346, ts_stack))]
    sendp(eth / ip() / TCP(sport=sp, dport=port, flags="A", seq=seq, ack=ack, options=opts), iface=iface)
    data = b"hello, stack\n"
    sniffer = start_sniffer(sp, timeout=3)
    sendp(eth / ip() / TCP(sport=sp, dport=port, flags="PA", seq=seq, ack=ack, options=opts) / Raw(data), iface=iface)
    sniffer.join()
    got = sniffer.results or []
    # Keep one copy of each sequence number: the stack retransmits what we do not acknowledge.
    pieces = {}
    for p in got:
        if len(p[TCP].payload) > 0:
            pieces.setdefault(p[TCP].seq, bytes(p[TCP].payload))
    echoed = b"".join(pieces[k] for k in sorted(pieces))
    acked = any(p[TCP].ack == (seq + len(data)) % 2**32 for p in got)
    results["data"] = {"acked": acked, "echoed": echoed == data, "echo": echoed.decode(errors="replace")}
    seq += len(data)
    ack += len(echoed)
    # We close: FIN; the app closes once it has read the end, so the stack's FIN follows.
    sniffer = start_sniffer(sp, timeout=3)
    sendp(eth / ip() / TCP(sport=sp, dport=port, flags="FA", seq=seq, ack=ack, options=opts), iface=iface)
    sniffer.join()
    got = sniffer.results or []
    fin_acked = any(p[TCP].ack == (seq + 1) % 2**32 for p in got)
    stack_fin = [p for p in got if "F" in flags(p)]
    if stack_fin:
        f = stack_fin[0]
        sendp(eth / ip() / TCP(sport=sp, dport=port, flags="A", seq=seq + 1, ack=f[TCP].seq + 1, options=opts),
              iface=iface)
    results["close"] = {"fin_acked": fin_acked, "stack_fin": len(stack_fin) > 0}

# RFC 5961 from outside: an in-window RST and a SYN on an open connection draw challenge ACKs; the
# exact RST then resets it, after which data draws a RST.
sp = sport()
isn = rng.randint(0, 2**32 - 1)
sa = ask(TCP(sport=sp, dport=port, flags="S", seq=isn, options=[("MSS", 1460)]))
if sa is not None:
    seq = isn + 1
    ack = sa[TCP].seq + 1
    sendp(eth / ip() / TCP(sport=sp, dport=port, flags="A", seq=seq, ack=ack), iface=iface)
    time.sleep(0.2)
    r1 = collect(eth / ip() / TCP(sport=sp, dport=port, flags="R", seq=seq + 100), sp)
    r2 = collect(eth / ip() / TCP(sport=sp, dport=port, flags="S", seq=rng.randint(0, 2**32 - 1)), sp)
    sendp(eth / ip() / TCP(sport=sp, dport=port, flags="R", seq=seq), iface=iface)
    time.sleep(0.2)
    r3 = collect(eth / ip() / TCP(sport=sp, dport=port, flags="PA", seq=seq, ack=ack) / Raw(b"x"), sp)
    results["rfc5961"] = {
        "rst_challenge": r1 is not None and flags(r1) == "A" and r1[TCP].ack == seq % 2**32,
        "syn_challenge": r2 is not None and flags(r2) == "A" and r2[TCP].ack == seq % 2**32,
        "reset_then_rst": r3 is not None and "R" in flags(r3),
    }

# 4. ISNs vary between connections (RFC 6528).
isns = []
for _ in range(4):
    p2 = sport()
    r = ask(TCP(sport=p2, dport=port, flags="S", seq=rng.randint(0, 2**32 - 1), options=[("MSS", 1460)]))
    if r is not None:
        isns.append(r[TCP].seq)
        sendp(eth / ip() / TCP(sport=p2, dport=port, flags="R", seq=r[TCP].ack), iface=iface)
results["isns"] = isns

# 5. A closed port answers a SYN with RST|ACK.
cisn = rng.randint(0, 2**32 - 1)
r = ask(TCP(sport=sport(), dport=closed_port, flags="S", seq=cisn))
results["closed"] = None if r is None else {"flags": flags(r), "ack_ok": r[TCP].ack == (cisn + 1) % 2**32}

# 6-8. Malformed segments get no answer at all.
sp = sport()
results["bad_offset_silent"] = silent(eth / ip() / TCP(sport=sp, dport=port, flags="S", seq=1, dataofs=4), port, sp)
sp = sport()
results["bad_checksum_silent"] = silent(eth / ip() / TCP(sport=sp, dport=port, flags="S", seq=1, chksum=0x1234),
                                        port, sp)
bad_options = [
    b"\x02\x03\x05\xb4",  # MSS of length 3
    b"\x02\x00\x00\x00",  # length 0
    b"\x03\x02\x00\x00",  # window scale of length 2
    b"\x08\x28\x00\x00",  # timestamps running past the header
]
silent_all = True
for raw in bad_options:
    sp = sport()
    frame = eth / IP(src=src_ip, dst=stack_ip, proto=6) / Raw(raw_tcp(sp, port, 1, 0x02, raw))
    if not silent(frame, port, sp, timeout=1.0):
        silent_all = False
results["bad_options_silent"] = silent_all

# Liveness: after all that, a normal SYN still gets a SYN-ACK.
sp = sport()
r = ask(TCP(sport=sp, dport=port, flags="S", seq=7, options=[("MSS", 1460)]))
results["alive"] = r is not None and flags(r) == "SA"
if r is not None:
    sendp(eth / ip() / TCP(sport=sp, dport=port, flags="R", seq=8), iface=iface)

print(json.dumps(results))
