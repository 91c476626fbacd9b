use arrow::array::Array;
fn main() {
    let path = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let files = dq_gate::io::discover(&[path]).unwrap();
    let mut b = dq_gate::io::Batches::new(&files, None, None).with_strings(dq_gate::io::Strings::Views);
    let (_, chunks) = b.next_batch().unwrap().unwrap();
    let mut tot = vec![(0usize, 0usize); 12];
    let mut names = vec![];
    for c in chunks {
        let c = c.unwrap();
        if names.is_empty() { names = c.schema().fields().iter().map(|f| f.name().clone()).collect(); }
        for (i, a) in c.columns().iter().enumerate() {
            let d = a.to_data();
            let cap: usize = d.buffers().iter().map(|b| b.capacity()).sum();
            let len: usize = d.buffers().iter().map(|b| b.len()).sum();
            tot[i].0 += len; tot[i].1 += cap;
        }
    }
    for (n, (l, c)) in names.iter().zip(tot) { println!("{n:<16} len {:>6.1} MB cap {:>6.1} MB", l as f64/1e6, c as f64/1e6); }
}
