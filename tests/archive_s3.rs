//! Archiving against a real S3 server (Ceph RGW; `.ci/steps/s3_archive.sh` starts one):
//! runs when `CPJ_S3_ENDPOINT` is set, and prints a note and passes otherwise.

mod archive_support;

#[test]
fn s3_tests_need_an_endpoint() {
    if std::env::var_os("CPJ_S3_ENDPOINT").is_none() {
        eprintln!("note: CPJ_S3_ENDPOINT is not set; the S3 archive tests are skipped");
    }
}
