# sockid.py MODE PROXYCG OTHERCG HOST PORT: prints "web" when a connection
# to HOST:PORT gets web's answer. The process starts as root.
#   root:    its socket as root in PROXYCG (control: admitted)
#   own:     moves to OTHERCG, becomes nobody, creates its socket (control)
#   setuid:  creates its socket as root in PROXYCG, then moves to OTHERCG
#            and becomes nobody before connecting
#   scm:     a child moves to OTHERCG and becomes nobody; the parent
#            (root, PROXYCG) creates a socket and passes it over a unix
#            socket (SCM_RIGHTS); the child connects it
import os, socket, sys
mode, proxycg, othercg, host, port = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])

def move(cg):
    with open(cg + "/cgroup.procs", "w") as f:
        f.write(str(os.getpid()))

def nobody():
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)

def use(s):
    s.settimeout(2)
    try:
        s.connect((host, port))
        print(s.recv(3).decode(), end="")
    except OSError as e:
        print("refused:", e, file=sys.stderr)

move(proxycg)
if mode == "root":
    use(socket.socket())
elif mode == "own":
    move(othercg); nobody()
    use(socket.socket())
elif mode == "setuid":
    s = socket.socket()
    move(othercg); nobody()
    use(s)
elif mode == "scm":
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        a.close(); move(othercg); nobody()
        msg, fds, _, _ = socket.recv_fds(b, 1, 1)
        use(socket.socket(fileno=fds[0]))
        sys.stdout.flush(); os._exit(0)
    b.close()
    s = socket.socket()
    socket.send_fds(a, [b"x"], [s.fileno()])
    os.waitpid(pid, 0)
