// Command rr-parity is the Go side of the parity test: it routes each JSONL request
// through Router.Route (the Go request type, not RouteJSON, so the binding's setters are
// what is compared) and prints each decision record on its own line.
//
//	rr-parity POLICY.json REQUESTS.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	routeright "github.com/routeright/routeright/bindings/go"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: rr-parity POLICY.json REQUESTS.jsonl")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "rr-parity:", err)
		os.Exit(1)
	}
}

func run(policy, requests string) error {
	r, err := routeright.NewFromFile(policy)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Open(requests)
	if err != nil {
		return err
	}
	defer f.Close()
	in := bufio.NewScanner(f)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for n := 1; in.Scan(); n++ {
		var q routeright.Request
		if err := json.Unmarshal(in.Bytes(), &q); err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		d, err := r.Route(q)
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		out.Write(d.Record)
		out.WriteByte('\n')
	}
	return in.Err()
}
