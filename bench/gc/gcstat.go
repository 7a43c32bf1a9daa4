// gcstat.go: the RESULT line of the Go variants (see variant.h), from
// runtime.ReadMemStats: NumGC, and PauseNs, the ring of the last 256
// cycles' stop-the-world pauses (both of a cycle's pauses, summed).
// gcPoll gathers the pauses of the cycles since its last call, so that
// no more than 256 cycles pass between two calls goes unseen.

package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
)

var (
	gcPauses []uint64
	gcSeen   uint32
	gcLost   uint32
	gcMs     runtime.MemStats
)

func gcPoll() {
	runtime.ReadMemStats(&gcMs)
	for k := gcSeen; k < gcMs.NumGC; k++ {
		if gcMs.NumGC-k <= 256 {
			gcPauses = append(gcPauses, gcMs.PauseNs[k%256])
		} else {
			gcLost++
		}
	}
	gcSeen = gcMs.NumGC
}

func gcReport() {
	gcPoll()
	os.Stdout.Sync()
	fmt.Fprintln(os.Stderr, "VARIANT go")
	if gcLost > 0 {
		fmt.Fprintf(os.Stderr, "gcstat: the pauses of %d cycles were not seen (ring overrun)\n", gcLost)
	}
	med, max := 0.0, 0.0
	if n := len(gcPauses); n > 0 {
		sort.Slice(gcPauses, func(i, j int) bool { return gcPauses[i] < gcPauses[j] })
		if n%2 == 1 {
			med = float64(gcPauses[n/2]) / 1e3
		} else {
			med = (float64(gcPauses[n/2-1]) + float64(gcPauses[n/2])) / 2 / 1e3
		}
		max = float64(gcPauses[n-1]) / 1e3
	}
	fmt.Fprintf(os.Stderr, "RESULT gcs=%d pause_med_us=%.1f pause_max_us=%.1f\n", gcSeen, med, max)
}
