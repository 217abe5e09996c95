/* SPDX-License-Identifier: MIT */
/*
 * Inodes are paths: every node the kernel knows holds its path from the
 * root and lives while the kernel holds lookups on it (forget frees it).
 * Two hash chains per node, by number and by path. Everything here runs
 * under fs->nodes_lock, taken inside.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_internal.h"
#include "pantherfs/banned.h"

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h % FS_NODE_BUCKETS;
}

static struct fs_node *by_ino(struct pfs_fs *fs, fuse_ino_t ino)
{
	struct fs_node *n = fs->by_ino[ino % FS_NODE_BUCKETS];

	while (n && n->ino != ino)
		n = n->next_ino;
	return n;
}

static struct fs_node *by_path(struct pfs_fs *fs, const char *path)
{
	struct fs_node *n = fs->by_path[hash_str(path)];

	while (n && strcmp(n->path, path))
		n = n->next_path;
	return n;
}

static struct fs_node *node_add(struct pfs_fs *fs, const char *path, fuse_ino_t ino)
{
	struct fs_node *n = calloc(1, sizeof(*n));
	size_t hp;

	if (!n || !(n->path = strdup(path))) {
		free(n);
		return NULL;
	}
	n->ino = ino ? ino : fs->next_ino++;
	n->next_ino = fs->by_ino[n->ino % FS_NODE_BUCKETS];
	fs->by_ino[n->ino % FS_NODE_BUCKETS] = n;
	hp = hash_str(path);
	n->next_path = fs->by_path[hp];
	fs->by_path[hp] = n;
	return n;
}

static void node_del(struct pfs_fs *fs, struct fs_node *n)
{
	struct fs_node **p;

	for (p = &fs->by_ino[n->ino % FS_NODE_BUCKETS]; *p && *p != n; p = &(*p)->next_ino)
		;
	if (*p)
		*p = n->next_ino;
	for (p = &fs->by_path[hash_str(n->path)]; *p && *p != n; p = &(*p)->next_path)
		;
	if (*p)
		*p = n->next_path;
	free(n->path);
	free(n);
}

int fs_nodes_init(struct pfs_fs *fs)
{
	fs->next_ino = FUSE_ROOT_ID + 1;
	return node_add(fs, "", FUSE_ROOT_ID) ? 0 : -ENOMEM;
}

void fs_nodes_release(struct pfs_fs *fs)
{
	for (size_t i = 0; i < FS_NODE_BUCKETS; i++)
		while (fs->by_ino[i])
			node_del(fs, fs->by_ino[i]);
}

char *fs_node_path(struct pfs_fs *fs, fuse_ino_t ino)
{
	struct fs_node *n;
	char *p = NULL;

	pthread_mutex_lock(&fs->nodes_lock);
	n = by_ino(fs, ino);
	if (n)
		p = strdup(n->path);
	pthread_mutex_unlock(&fs->nodes_lock);
	return p;
}

fuse_ino_t fs_node_lookup(struct pfs_fs *fs, const char *path)
{
	struct fs_node *n;
	fuse_ino_t ino = 0;

	pthread_mutex_lock(&fs->nodes_lock);
	n = by_path(fs, path);
	if (!n)
		n = node_add(fs, path, 0);
	if (n) {
		n->nlookup++;
		ino = n->ino;
	}
	pthread_mutex_unlock(&fs->nodes_lock);
	return ino;
}

void fs_node_forget(struct pfs_fs *fs, fuse_ino_t ino, uint64_t count)
{
	struct fs_node *n;

	pthread_mutex_lock(&fs->nodes_lock);
	n = by_ino(fs, ino);
	if (n && ino != FUSE_ROOT_ID) {
		n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
		if (!n->nlookup)
			node_del(fs, n);
	}
	pthread_mutex_unlock(&fs->nodes_lock);
}
