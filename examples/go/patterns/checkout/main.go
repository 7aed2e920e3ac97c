// The Go original of examples/patterns/checkout.cpp, quoted beside it in docs/patterns/error_group.md.
// Needs golang.org/x/sync (Debian: golang-golang-x-sync-dev). Run without a module, e.g.
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run examples/go/patterns/checkout/main.go
//
// or copy it into a module that requires golang.org/x/sync.
package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

type Order struct {
	ID         int
	Quantity   int
	Item       string
	TotalCents int64
	Card       string
	City       string
}

func money(cents int64) string {
	return fmt.Sprintf("ARS %d.%02d", cents/100, cents%100)
}

// What the payment service answers for a card it refuses.
type PaymentDeclined struct{ msg string }

func (e *PaymentDeclined) Error() string { return e.msg }

// sleep waits for d unless ctx is canceled first (weft::sleep).
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func validateInventory(o Order) string {
	return fmt.Sprintf("%d x %s reserved", o.Quantity, o.Item)
}

func processPayment(ctx context.Context, o Order) (string, error) {
	if err := sleep(ctx, 20*time.Millisecond); err != nil {
		return "", fmt.Errorf("payment: %w", err)
	}
	if strings.HasSuffix(o.Card, "0002") {
		return "", &PaymentDeclined{"card " + o.Card + " declined: insufficient funds"}
	}
	return "charged " + money(o.TotalCents), nil
}

func computeShipping(ctx context.Context, o Order) (string, error) {
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return "", fmt.Errorf("shipping: %w", err)
	}
	return money(250000) + " to " + o.City + ", 2 days", nil
}

func checkFraud(ctx context.Context, o Order) (string, error) {
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return "", fmt.Errorf("fraud: %w", err)
	}
	return fmt.Sprintf("score %d/100, approved", o.ID*37%100), nil
}

type checks struct {
	inventory, payment, shipping, fraud string
}

func printCheck(name, result string) {
	if result == "" {
		result = "(no result)"
	}
	fmt.Printf("  %-10s %s\n", name, result)
}

func checkout(o Order) {
	fmt.Printf("order %d: %d x %s to %s, card %s\n", o.ID, o.Quantity, o.Item, o.City, o.Card)
	deadline, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g, ctx := errgroup.WithContext(deadline)
	var r checks
	g.Go(func() error { r.inventory = validateInventory(o); return nil })
	g.Go(func() (err error) { r.payment, err = processPayment(ctx, o); return })
	g.Go(func() (err error) { r.shipping, err = computeShipping(ctx, o); return })
	g.Go(func() (err error) { r.fraud, err = checkFraud(ctx, o); return })
	err := g.Wait()

	printCheck("inventory:", r.inventory)
	printCheck("payment:", r.payment)
	printCheck("shipping:", r.shipping)
	printCheck("fraud:", r.fraud)
	if err == nil {
		fmt.Println("  => confirmed")
		return
	}
	fmt.Printf("  => rejected: %v\n", err)
	// errgroup keeps only the first error: the canceled checks' errors are gone. (Since Go
	// 1.20, context.Cause(ctx) can say why ctx was canceled, where x/sync records it.)
	fmt.Printf("  => %v\n", ctx.Err())
}

func fraudScore(o Order) (string, error) {
	if o.Card == "" {
		return "", fmt.Errorf("order %d: no card", o.ID)
	}
	return strconv.Itoa(o.ID * 37 % 100), nil
}

func screen(batch []Order) {
	var g errgroup.Group
	g.SetLimit(2)
	scores := make([]string, len(batch))
	for i := range scores {
		scores[i] = "-"
	}
	var running, most atomic.Int32
	for i := range batch {
		i := i
		g.Go(func() error {
			now := running.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			time.Sleep(10 * time.Millisecond) // the scoring model at work
			running.Add(-1)
			s, err := fraudScore(batch[i])
			if err == nil {
				scores[i] = s
			}
			return err
		})
	}
	err := g.Wait()
	fmt.Printf("screened %d orders: %s\n", len(batch), strings.Join(scores, " "))
	atMost2 := "no"
	if most.Load() <= 2 {
		atMost2 = "yes"
	}
	fmt.Printf("  never more than 2 at once: %s\n", atMost2)
	if err != nil {
		fmt.Printf("  first error: %v\n", err)
	}
}

func main() {
	checkout(Order{1001, 2, "mate gourd", 3500000, "4111-1111-1111-1111", "Buenos Aires"})
	checkout(Order{1002, 1, "yerba 1kg", 620000, "4000-0000-0000-0002", "Cordoba"})
	screen([]Order{
		{2001, 1, "bombilla", 450000, "4111-1111-1111-1111", "Rosario"},
		{2002, 3, "thermos", 2100000, "5500-0000-0000-0004", "Mendoza"},
		{2003, 1, "yerba 500g", 310000, "", "Salta"},
		{2004, 2, "mate gourd", 3500000, "4111-1111-1111-1111", "La Plata"},
		{2005, 1, "bombilla", 450000, "3400-0000-0000-0009", "Tucuman"},
	})
}
