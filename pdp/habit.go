package pdp

import "math"

// Habit is a UID's spending habit, learned from the money movements the
// sidecar allowed and the service reported completed (POST /v1/outcomes):
// an exponentially weighted mean and variance of the
// amount and decayed weights of the categories (DOMAIN: "spending that
// departs sharply from the account's habit"). Each observation weighs
// HabitAlpha, so the habit follows roughly the last 1/HabitAlpha movements.
type Habit struct {
	Count      uint32           `json:"count"`
	Mean       float64          `json:"mean"`
	Var        float64          `json:"var"`
	Categories []CategoryWeight `json:"categories,omitempty"` // at most MaxHabitCategories, heaviest first
}

// CategoryWeight is one category's decayed weight in a Habit.
type CategoryWeight struct {
	Category string  `json:"category"`
	Weight   float64 `json:"weight"`
}

// Habit tuning.
const (
	HabitAlpha         = 0.1
	MaxHabitCategories = 8
)

// Observe folds one completed money movement into the habit.
func (h *Habit) Observe(amount float64, category string) {
	if amount < 0 || math.IsNaN(amount) || math.IsInf(amount, 0) {
		return
	}
	h.Count++
	if h.Count == 1 {
		h.Mean, h.Var = amount, 0
	} else {
		d := amount - h.Mean
		h.Mean += HabitAlpha * d
		h.Var = (1 - HabitAlpha) * (h.Var + HabitAlpha*d*d)
	}
	found := false
	for i := range h.Categories {
		h.Categories[i].Weight *= 1 - HabitAlpha
		if h.Categories[i].Category == category {
			h.Categories[i].Weight += HabitAlpha
			found = true
		}
	}
	if !found && category != "" {
		h.Categories = append(h.Categories, CategoryWeight{Category: category, Weight: HabitAlpha})
	}
	// Heaviest first; drop the lightest beyond the bound.
	for i := len(h.Categories) - 1; i > 0 && h.Categories[i].Weight > h.Categories[i-1].Weight; i-- {
		h.Categories[i], h.Categories[i-1] = h.Categories[i-1], h.Categories[i]
	}
	if len(h.Categories) > MaxHabitCategories {
		h.Categories = h.Categories[:MaxHabitCategories]
	}
}

// Std is the standard deviation of the amount.
func (h Habit) Std() float64 { return math.Sqrt(h.Var) }

// Share is the category's share of the habit's category weights, 0..1.
func (h Habit) Share(category string) float64 {
	total, w := 0.0, 0.0
	for _, c := range h.Categories {
		total += c.Weight
		if c.Category == category {
			w = c.Weight
		}
	}
	if total == 0 {
		return 0
	}
	return w / total
}
