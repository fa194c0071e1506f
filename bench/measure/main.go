// Command measure runs a command and reports its wall time, CPU time and
// peak resident set size from the kernel's rusage for the child, so the
// benchmark needs no GNU time.
//
//	measure [-stdout FILE] [-stderr FILE] [-timeout DURATION] -- COMMAND [ARG...]
//
// It prints one line: wall seconds, user seconds, system seconds, peak RSS
// in KiB and the command's exit code (124 after a timeout, 127 if it could
// not start, 128+N if signal N killed it: 137 is SIGKILL, often the
// out-of-memory killer). measure itself exits 0 whenever it could report, so callers
// decide what a failing command means.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	stdout := flag.String("stdout", os.DevNull, "file for the command's standard output")
	stderr := flag.String("stderr", "", "file for the command's standard error (default: inherit)")
	timeout := flag.Duration("timeout", 0, "kill the command after this long (0: never)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: measure [-stdout FILE] [-stderr FILE] [-timeout DURATION] -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Args(), *stdout, *stderr, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

func run(args []string, stdoutPath, stderrPath string, timeout time.Duration) error {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...) // #nosec G204 -- running its user's command is what measure is for
	out, err := os.Create(stdoutPath)                     // #nosec G304 -- the output file its user names
	if err != nil {
		return err
	}
	defer out.Close()
	cmd.Stdout = out
	cmd.Stderr = os.Stderr
	if stderrPath != "" {
		f, err := os.Create(stderrPath) // #nosec G304 -- the output file its user names
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.Stderr = f
	}

	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	code := 0
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		code = 124
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal()) // as shells report it
		}
	case err != nil:
		fmt.Fprintln(os.Stderr, "measure:", err)
		fmt.Printf("%.3f 0 0 0 127\n", wall.Seconds())
		return nil
	}
	var user, sys float64
	var rssKiB int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		user = time.Duration(ru.Utime.Nano()).Seconds()
		sys = time.Duration(ru.Stime.Nano()).Seconds()
		rssKiB = ru.Maxrss // KiB on Linux
	}
	fmt.Printf("%.3f %.3f %.3f %d %d\n", wall.Seconds(), user, sys, rssKiB, code)
	return nil
}
