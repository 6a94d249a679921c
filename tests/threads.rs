//! libtorch's thread count is process-wide: a search sets it only when its
//! configuration says so (a file of its own, so that no other test shares the process).

use densenas::data;
use densenas::search::SearchConfig;

#[test]
fn the_thread_count_is_left_alone_unless_asked() {
    let config: SearchConfig = serde_json::from_str(
        r#"{"space": {"layers": 2, "width": 8, "blocks": 2}, "phases": 1, "epochs": 1, "retrain": {"epochs": 0}}"#,
    )
    .unwrap();
    assert_eq!(config.threads, None, "the library's default sets no thread count");
    let data = data::load("digits").unwrap();
    tch::set_num_threads(2);
    densenas::run_search(&config, &data, &mut |_| {}).unwrap();
    assert_eq!(tch::get_num_threads(), 2, "a search without \"threads\" changed the thread count");
    let config = SearchConfig { threads: Some(1), ..config };
    densenas::run_search(&config, &data, &mut |_| {}).unwrap();
    assert_eq!(tch::get_num_threads(), 1);
}
