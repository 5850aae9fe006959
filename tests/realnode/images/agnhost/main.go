// Command agnhost is a LOCAL STAND-IN for registry.k8s.io/e2e-test-images/agnhost, made for the
// real-node tier so that deploy/examples/pod-echo.yaml runs unmodified with no image pulled. It
// understands only `netexec --http-port=N`: it serves HTTP on N, answering /hostname with the
// pod's hostname (as agnhost does) and any other path with a line that names the pod, its
// container port and its host port (MY_HOST_PORT, set by the example through the downward API).
// Like agnhost's netexec, GET /exit?code=N answers, shuts the server down and exits with N
// (default 0), so a Job's pod can run to completion when the test says so.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "netexec" {
		fmt.Fprintln(os.Stderr, "agnhost stand-in: only `netexec --http-port=N` is supported")
		os.Exit(2)
	}
	port := "8080"
	for _, arg := range os.Args[2:] {
		if value, ok := strings.CutPrefix(arg, "--http-port="); ok {
			port = value
		}
	}
	hostname, _ := os.Hostname()
	hostPort := os.Getenv("MY_HOST_PORT")
	if hostPort == "" {
		hostPort = "none"
	}
	http.HandleFunc("/hostname", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, hostname)
	})
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "agnhost stand-in: pod %s, container port %s, host port %s\n", hostname, port, hostPort)
	})
	server := &http.Server{Addr: ":" + port}
	exit := make(chan int, 1)
	http.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		code := 0
		if text := r.URL.Query().Get("code"); text != "" {
			value, err := strconv.Atoi(text)
			if err != nil || value < 0 || value > 255 {
				http.Error(w, "code must be an integer from 0 to 255", http.StatusBadRequest)
				return
			}
			code = value
		}
		fmt.Fprintf(w, "agnhost stand-in: exiting with code %d\n", code)
		select {
		case exit <- code:
		default:
		}
	})
	go func() {
		code := <-exit
		_ = server.Shutdown(context.Background())
		fmt.Printf("agnhost stand-in: exit code %d\n", code)
		os.Exit(code)
	}()
	fmt.Printf("agnhost stand-in: serving HTTP on :%s\n", port)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	select {} // the exit goroutine ends the process once Shutdown returns
}
