// Command agnhost is a LOCAL STAND-IN for registry.k8s.io/e2e-test-images/agnhost, made for the
// real-node tier so that deploy/examples/pod-echo.yaml runs unmodified with no image pulled. It
// understands only `netexec --http-port=N`: it serves HTTP on N, answering /hostname with the
// pod's hostname (as agnhost does) and any other path with a line that names the pod, its
// container port and its host port (MY_HOST_PORT, set by the example through the downward API).
package main

import (
	"fmt"
	"net/http"
	"os"
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
	fmt.Printf("agnhost stand-in: serving HTTP on :%s\n", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
