//! The fixed test split of a dataset without a test file: in-place reordering gives
//! exactly the rows of the seeded stratified split, and every run gets the same one.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use densenas::data::{self, stratified_split, DataSplits, FIXED_TEST_FRACTION, FIXED_TEST_SEED};

#[test]
fn the_fixed_test_split_is_the_seeded_stratified_split() {
    let all = data::digits().unwrap();
    let (train_idx, test_idx) = stratified_split(&all, FIXED_TEST_FRACTION, &mut ChaCha8Rng::seed_from_u64(FIXED_TEST_SEED));
    let s = DataSplits::with_fixed_test(all.clone(), FIXED_TEST_FRACTION).unwrap();
    assert_eq!(s.train, all.subset(&train_idx));
    assert_eq!(s.test, all.subset(&test_idx));
    assert_eq!((s.train.len(), s.test.len()), (1438, 359));
    // Stratified: each class gives round(20%) of its samples to the test split.
    for (c, (&n, &t)) in all.class_counts().iter().zip(&s.test.class_counts()).enumerate() {
        assert_eq!(t, (0.2 * n as f64).round() as usize, "class {c}");
    }
    // The same for every run.
    let again = data::load("digits").unwrap();
    assert_eq!((again.train, again.test), (s.train, s.test));
}
