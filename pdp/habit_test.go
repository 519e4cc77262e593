package pdp

import (
	"math"
	"testing"
)

func TestHabit(t *testing.T) {
	var h Habit
	for i := 0; i < 100; i++ {
		h.Observe(30+float64(i%5), "daily_goods")
	}
	if h.Count != 100 || math.Abs(h.Mean-32) > 1.5 || h.Std() > 3 || h.Share("daily_goods") < 0.99 {
		t.Fatalf("steady habit: %+v std %v", h, h.Std())
	}
	h.Observe(6000, "digital")
	if h.Share("digital") > 0.2 || h.Mean < 100 {
		t.Fatalf("one outlier: %+v", h)
	}
	for i := 0; i < 20; i++ {
		h.Observe(10, "c"+string(rune('a'+i)))
	}
	if len(h.Categories) != MaxHabitCategories {
		t.Fatalf("categories not bounded: %d", len(h.Categories))
	}
	for i := 1; i < len(h.Categories); i++ {
		if h.Categories[i].Weight > h.Categories[i-1].Weight {
			t.Fatalf("not heaviest first: %+v", h.Categories)
		}
	}
	before := h
	h.Observe(math.NaN(), "x")
	h.Observe(-1, "x")
	if h.Count != before.Count {
		t.Fatal("invalid amounts counted")
	}
}
