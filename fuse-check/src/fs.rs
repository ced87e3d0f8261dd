//! An in-memory FUSE filesystem that keeps, per file, what WRITE requests delivered
//! (*written*) apart from what an FSYNC made durable (*durable*), and per directory the
//! entries apart from the entries an FSYNCDIR made durable. [`Disk::power_cut`] throws
//! away everything that is not durable, as a power loss would.
//!
//! FUSE's FSYNC carries no byte range, so an FSYNC makes the file's whole written image
//! durable (the kernel writes back the dirty pages of the synced range first). FLUSH
//! (sent on every close) and RELEASE make nothing durable.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    BackgroundSession, Config, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags,
    Generation, INodeNo, LockOwner, MountOption, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request,
    TimeOrNow, WriteFlags,
};

const TTL: Duration = Duration::from_secs(1);
const ROOT: u64 = 1;
const BLOCK: u32 = 4096;

/// Counts of the requests that reached the filesystem.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// WRITE requests.
    pub writes: u64,
    /// WRITE requests flagged `FUSE_WRITE_CACHE` (page-cache writeback, e.g. of mmap pages).
    pub cache_writes: u64,
    /// Bytes delivered by WRITE requests.
    pub write_bytes: u64,
    /// Bytes delivered by WRITE requests not from the page cache (write(2) and friends).
    pub direct_write_bytes: u64,
    /// FSYNC requests (each makes one file's written image durable).
    pub fsyncs: u64,
    /// FSYNC requests with the datasync flag.
    pub fdatasyncs: u64,
    /// FSYNCDIR requests.
    pub fsyncdirs: u64,
    /// FLUSH requests (close; nothing made durable).
    pub flushes: u64,
    /// FALLOCATE requests (answered ENOSYS).
    pub fallocates: u64,
    /// READ requests.
    pub reads: u64,
    /// SETATTR requests that changed a file's size.
    pub truncates: u64,
    /// Requests refused because the power was cut.
    pub refused: u64,
}

#[derive(Debug)]
enum Node {
    File {
        written: Vec<u8>,
        durable: Vec<u8>,
        perm: u16,
    },
    Dir {
        entries: BTreeMap<OsString, u64>,
        durable: BTreeMap<OsString, u64>,
        perm: u16,
    },
}

#[derive(Debug)]
struct State {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    powered: bool,
    stats: Stats,
}

/// The storage behind the mount; outlives mounts, so a remount serves what survived.
#[derive(Debug)]
pub struct Disk {
    state: Mutex<State>,
}

impl Default for Disk {
    fn default() -> Disk {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node::Dir {
                entries: BTreeMap::new(),
                durable: BTreeMap::new(),
                perm: 0o755,
            },
        );
        Disk {
            state: Mutex::new(State {
                nodes,
                next_ino: ROOT + 1,
                powered: true,
                stats: Stats::default(),
            }),
        }
    }
}

/// What a power cut discarded.
#[derive(Clone, Debug, Default)]
pub struct CutReport {
    /// Files whose written image differed from the durable one.
    pub files_rolled_back: usize,
    /// Bytes that differed or were beyond the durable length.
    pub bytes_lost: u64,
    /// Directory entries that were not durable (added, removed or renamed).
    pub entries_lost: usize,
    /// Files and directories no longer reachable.
    pub nodes_dropped: usize,
}

impl Disk {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Request counts so far.
    pub fn stats(&self) -> Stats {
        self.lock().stats.clone()
    }

    /// Power loss: every file keeps only its durable image, every directory only its
    /// durable entries; unreachable nodes are dropped. Until [`Disk::power_on`], every
    /// request is refused with EIO (so writeback at unmount changes nothing).
    pub fn power_cut(&self) -> CutReport {
        let mut st = self.lock();
        let mut report = CutReport::default();
        for node in st.nodes.values_mut() {
            match node {
                Node::File {
                    written, durable, ..
                } => {
                    if written != durable {
                        report.files_rolled_back += 1;
                        let common = written.len().min(durable.len());
                        let differing = written[..common]
                            .iter()
                            .zip(&durable[..common])
                            .filter(|(a, b)| a != b)
                            .count();
                        report.bytes_lost +=
                            (differing + written.len().saturating_sub(common)) as u64;
                        written.clone_from(durable);
                    }
                }
                Node::Dir {
                    entries, durable, ..
                } => {
                    let changed = entries
                        .iter()
                        .filter(|(k, v)| durable.get(*k) != Some(v))
                        .count()
                        + durable.keys().filter(|k| !entries.contains_key(*k)).count();
                    report.entries_lost += changed;
                    entries.clone_from(durable);
                }
            }
        }
        let mut reachable = HashSet::new();
        let mut stack = vec![ROOT];
        while let Some(ino) = stack.pop() {
            if reachable.insert(ino) {
                if let Some(Node::Dir { entries, .. }) = st.nodes.get(&ino) {
                    stack.extend(entries.values().copied());
                }
            }
        }
        let before = st.nodes.len();
        st.nodes.retain(|ino, _| reachable.contains(ino));
        report.nodes_dropped = before - st.nodes.len();
        st.powered = false;
        report
    }

    /// Lets requests through again (the next mount).
    pub fn power_on(&self) {
        self.lock().powered = true;
    }

    /// Names in the root directory: (written entries, durable entries).
    pub fn root_names(&self) -> (Vec<String>, Vec<String>) {
        let st = self.lock();
        match st.nodes.get(&ROOT) {
            Some(Node::Dir {
                entries, durable, ..
            }) => (
                entries
                    .keys()
                    .map(|k| k.to_string_lossy().into_owned())
                    .collect(),
                durable
                    .keys()
                    .map(|k| k.to_string_lossy().into_owned())
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        }
    }
}

fn attr(ino: u64, node: &Node) -> FileAttr {
    let (kind, size, perm, nlink) = match node {
        Node::File { written, perm, .. } => (FileType::RegularFile, written.len() as u64, *perm, 1),
        Node::Dir { perm, .. } => (FileType::Directory, 0, *perm, 2),
    };
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    FileAttr {
        ino: INodeNo(ino),
        size,
        blocks: size.div_ceil(512),
        atime: now,
        mtime: now,
        ctime: now,
        crtime: now,
        kind,
        perm,
        nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: BLOCK,
        flags: 0,
    }
}

/// The FUSE side: one per mount, all sharing one [`Disk`].
#[derive(Debug)]
pub struct PowerLossFs {
    disk: Arc<Disk>,
    uid: u32,
    gid: u32,
}

impl PowerLossFs {
    fn state(&self) -> Result<MutexGuard<'_, State>, Errno> {
        let mut st = self.disk.lock();
        if st.powered {
            Ok(st)
        } else {
            st.stats.refused += 1;
            Err(Errno::EIO)
        }
    }

    fn attr(&self, ino: u64, node: &Node) -> FileAttr {
        let mut a = attr(ino, node);
        a.uid = self.uid;
        a.gid = self.gid;
        a
    }

    fn new_node(&self, parent: u64, name: &OsStr, node: Node) -> Result<(u64, FileAttr), Errno> {
        let mut st = self.state()?;
        let ino = st.next_ino;
        let Some(Node::Dir { entries, .. }) = st.nodes.get_mut(&parent) else {
            return Err(Errno::ENOTDIR);
        };
        if entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        entries.insert(name.to_owned(), ino);
        st.next_ino += 1;
        let a = self.attr(ino, &node);
        st.nodes.insert(ino, node);
        Ok((ino, a))
    }
}

/// Mounts a filesystem serving `disk` on `mountpoint` (kernel page cache on, no
/// `direct_io`, no writeback cache: shared writable mappings work and dirty pages reach
/// the filesystem as WRITE requests on msync, fsync and close).
pub fn mount(disk: &Arc<Disk>, mountpoint: &Path) -> std::io::Result<BackgroundSession> {
    disk.power_on();
    let fs = PowerLossFs {
        disk: Arc::clone(disk),
        // SAFETY: getuid and getgid take no arguments and cannot fail.
        uid: unsafe { libc::getuid() },
        // SAFETY: as above.
        gid: unsafe { libc::getgid() },
    };
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName("cpj-power-loss".into()),
        MountOption::RW,
        MountOption::NoAtime,
    ];
    config.n_threads = Some(2);
    fuser::spawn_mount(fs, mountpoint, &config)
}

fn reply_attr_of(fs: &PowerLossFs, ino: INodeNo, reply: ReplyAttr) {
    match fs.state() {
        Ok(st) => match st.nodes.get(&ino.0) {
            Some(node) => reply.attr(&TTL, &fs.attr(ino.0, node)),
            None => reply.error(Errno::ENOENT),
        },
        Err(e) => reply.error(e),
    }
}

impl Filesystem for PowerLossFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        let Some(Node::Dir { entries, .. }) = st.nodes.get(&parent.0) else {
            return reply.error(Errno::ENOTDIR);
        };
        match entries
            .get(name)
            .and_then(|ino| Some((*ino, st.nodes.get(ino)?)))
        {
            Some((ino, node)) => reply.entry(&TTL, &self.attr(ino, node), Generation(0)),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        reply_attr_of(self, ino, reply);
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let mut st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        let resized = {
            let Some(node) = st.nodes.get_mut(&ino.0) else {
                return reply.error(Errno::ENOENT);
            };
            if let Some(mode) = mode {
                match node {
                    Node::File { perm, .. } | Node::Dir { perm, .. } => {
                        *perm = (mode & 0o7777) as u16;
                    }
                }
            }
            match (node, size) {
                (Node::File { written, .. }, Some(size)) => {
                    let Ok(size) = usize::try_from(size) else {
                        return reply.error(Errno::EFBIG);
                    };
                    written.resize(size, 0);
                    true
                }
                (Node::Dir { .. }, Some(_)) => return reply.error(Errno::EISDIR),
                _ => false,
            }
        };
        if resized {
            st.stats.truncates += 1;
        }
        let node = &st.nodes[&ino.0];
        reply.attr(&TTL, &self.attr(ino.0, node));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let node = Node::Dir {
            entries: BTreeMap::new(),
            durable: BTreeMap::new(),
            perm: (mode & !umask & 0o7777) as u16,
        };
        match self.new_node(parent.0, name, node) {
            Ok((_, a)) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        let node = Node::File {
            written: Vec::new(),
            durable: Vec::new(),
            perm: (mode & !umask & 0o7777) as u16,
        };
        match self.new_node(parent.0, name, node) {
            Ok((_, a)) => reply.created(
                &TTL,
                &a,
                Generation(0),
                FileHandle(0),
                FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Err(e) => reply.error(e),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.state() {
            Ok(st) if st.nodes.contains_key(&ino.0) => {
                reply.opened(FileHandle(0), FopenFlags::FOPEN_KEEP_CACHE);
            }
            Ok(_) => reply.error(Errno::ENOENT),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let mut st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        st.stats.reads += 1;
        match st.nodes.get(&ino.0) {
            Some(Node::File { written, .. }) => {
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(written.len());
                let end = start.saturating_add(size as usize).min(written.len());
                reply.data(&written[start..end]);
            }
            Some(Node::Dir { .. }) => reply.error(Errno::EISDIR),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let mut st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        let Some(Node::File { written, .. }) = st.nodes.get_mut(&ino.0) else {
            return reply.error(Errno::EBADF);
        };
        let Ok(start) = usize::try_from(offset) else {
            return reply.error(Errno::EFBIG);
        };
        let end = start + data.len();
        if written.len() < end {
            written.resize(end, 0);
        }
        written[start..end].copy_from_slice(data);
        st.stats.writes += 1;
        st.stats.write_bytes += data.len() as u64;
        if write_flags.contains(WriteFlags::FUSE_WRITE_CACHE) {
            st.stats.cache_writes += 1;
        } else {
            st.stats.direct_write_bytes += data.len() as u64;
        }
        reply.written(u32::try_from(data.len()).unwrap_or(u32::MAX));
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        match self.state() {
            Ok(mut st) => {
                st.stats.flushes += 1;
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        match st.nodes.get_mut(&ino.0) {
            Some(Node::File {
                written, durable, ..
            }) => durable.clone_from(written),
            Some(Node::Dir { .. }) => {}
            None => return reply.error(Errno::ENOENT),
        }
        st.stats.fsyncs += 1;
        if datasync {
            st.stats.fdatasyncs += 1;
        }
        reply.ok();
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        let Some(Node::Dir { entries, .. }) = st.nodes.get(&ino.0) else {
            return reply.error(Errno::ENOTDIR);
        };
        let mut all: Vec<(u64, FileType, OsString)> = vec![
            (ino.0, FileType::Directory, ".".into()),
            (ROOT, FileType::Directory, "..".into()),
        ];
        for (name, child) in entries {
            let kind = match st.nodes.get(child) {
                Some(Node::Dir { .. }) => FileType::Directory,
                _ => FileType::RegularFile,
            };
            all.push((*child, kind, name.clone()));
        }
        for (i, (child, kind, name)) in all.into_iter().enumerate().skip(offset as usize) {
            if reply.add(INodeNo(child), (i + 1) as u64, kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        match st.nodes.get_mut(&ino.0) {
            Some(Node::Dir {
                entries, durable, ..
            }) => durable.clone_from(entries),
            _ => return reply.error(Errno::ENOTDIR),
        }
        st.stats.fsyncdirs += 1;
        reply.ok();
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        let Some(Node::Dir { entries, .. }) = st.nodes.get_mut(&parent.0) else {
            return reply.error(Errno::ENOTDIR);
        };
        // The node itself stays until a power cut finds it unreachable: a durable entry
        // may still name it, and open descriptors may still use it.
        match entries.remove(name) {
            Some(_) => reply.ok(),
            None => reply.error(Errno::ENOENT),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if !flags.is_empty() {
            return reply.error(Errno::EINVAL);
        }
        let mut st = match self.state() {
            Ok(st) => st,
            Err(e) => return reply.error(e),
        };
        let ino = match st.nodes.get_mut(&parent.0) {
            Some(Node::Dir { entries, .. }) => match entries.remove(name) {
                Some(ino) => ino,
                None => return reply.error(Errno::ENOENT),
            },
            _ => return reply.error(Errno::ENOTDIR),
        };
        match st.nodes.get_mut(&newparent.0) {
            Some(Node::Dir { entries, .. }) => {
                entries.insert(newname.to_owned(), ino);
                reply.ok();
            }
            _ => reply.error(Errno::ENOTDIR),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        // Not implemented: the kernel turns ENOSYS into EOPNOTSUPP for the caller (and
        // stops asking), so the journal's fallback allocation path runs.
        if let Ok(mut st) = self.state() {
            st.stats.fallocates += 1;
        }
        reply.error(Errno::ENOSYS);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        reply.statfs(
            1 << 20,
            1 << 19,
            1 << 19,
            1 << 16,
            1 << 15,
            BLOCK,
            255,
            BLOCK,
        );
    }
}

/// Unmounts and waits for the server thread. If the kernel refuses (something still
/// holds a file open), the mount is detached lazily so no stale mount is left behind,
/// and the refusal is returned.
pub fn unmount(session: BackgroundSession, mountpoint: &Path) -> Result<(), String> {
    match session.umount_and_join() {
        Ok(()) => Ok(()),
        Err(e) => {
            use std::os::unix::ffi::OsStrExt;
            if let Ok(path) = std::ffi::CString::new(mountpoint.as_os_str().as_bytes()) {
                // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
                unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
            }
            Err(e.to_string())
        }
    }
}
