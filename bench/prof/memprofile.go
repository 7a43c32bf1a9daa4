// memprofile.go: built with gc/binarytrees.go and gc/gcstat.go into the prof
// suite's Go binary.  It names runtime.MemProfile, so that the linker keeps
// Go's heap profiler (a program that cannot reach MemProfile runs with
// MemProfileRate 0, and GODEBUG=memprofilerate cannot turn it back on), and
// sets runtime.MemProfileRate from $MEMPROFILERATE before main runs.
package main

import (
	"os"
	"runtime"
	"strconv"
)

func init() {
	runtime.MemProfile(nil, true)
	if s := os.Getenv("MEMPROFILERATE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			println("memprofile.go: bad MEMPROFILERATE", s)
			os.Exit(2)
		}
		runtime.MemProfileRate = n
	}
}
