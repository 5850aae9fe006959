// Command pause is the pod sandbox's process of the real-node tier: PID 1 of each pod, it reaps
// orphaned children and exits on SIGINT or SIGTERM, like Kubernetes' own pause. It is Go, not C,
// because the Go toolchain is already there (tests/controlplane/build.sh) and gcc may not be;
// CGO_ENABLED=0 makes it static, so the image holds this one file.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
