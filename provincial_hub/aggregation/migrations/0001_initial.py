"""The hub's own tables, moved here from `federation` and `access` (issue #11).

State only: the tables already exist under their old names (federation 0001 and 0003, access
0001), which `db_table` keeps, so an existing hub database keeps its rows."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("access", "0004_witness_to_aggregation"),
        ("federation", "0006_hub_tables_to_aggregation"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
            migrations.CreateModel(
                name='SectorLibrary',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('code', models.CharField(max_length=32, unique=True)),
                    ('name', models.CharField(max_length=100)),
                    ('base_url', models.CharField(max_length=200)),
                    ('type_codes', models.JSONField(default=list)),
                    ('token', models.CharField(blank=True, max_length=200)),
                    ('active', models.BooleanField(default=True)),
                ],
                options={
                    'verbose_name': '行业电子证照库',
                    'verbose_name_plural': '行业电子证照库',
                    'db_table': 'federation_sectorlibrary',
                },
            ),
            migrations.CreateModel(
                name='RemoteFile',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('node', models.CharField(max_length=6, verbose_name='来源库')),
                    ('identifier', models.CharField(max_length=120, verbose_name='证照标识')),
                    ('version', models.PositiveIntegerField(verbose_name='版本')),
                    ('variant', models.CharField(max_length=10)),
                    ('sm3', models.CharField(max_length=64, verbose_name='文件摘要（SM3）')),
                    ('size', models.PositiveIntegerField()),
                    ('content_type', models.CharField(default='application/pdf', max_length=50)),
                    ('state', models.CharField(choices=[('pending', '待获取'), ('ready', '已获取'), ('failed', '获取失败')], default='pending', max_length=8)),
                    ('attempts', models.PositiveIntegerField(default=0)),
                    ('last_error', models.CharField(blank=True, max_length=500)),
                    ('next_attempt_at', models.DateTimeField(blank=True, null=True)),
                    ('path', models.CharField(blank=True, max_length=300)),
                    ('fetched_at', models.DateTimeField(blank=True, null=True)),
                    ('created_at', models.DateTimeField(auto_now_add=True)),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                ],
                options={
                    'verbose_name': '城市证照文件',
                    'verbose_name_plural': '城市证照文件',
                    'ordering': ['-updated_at'],
                    'db_table': 'federation_remotefile',
                    'indexes': [models.Index(fields=['state', 'next_attempt_at'], name='federation__state_843959_idx'), models.Index(fields=['node', 'state'], name='federation__node_043051_idx'), models.Index(fields=['sm3'], name='federation__sm3_55d639_idx')],
                    'constraints': [models.UniqueConstraint(fields=('identifier', 'variant'), name='remote_file_unique')],
                },
            ),
            migrations.CreateModel(
                name='Witness',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('node_code', models.CharField(db_index=True, max_length=6, verbose_name='节点')),
                    ('tree_size', models.BigIntegerField()),
                    ('root_hash', models.CharField(max_length=64)),
                    ('head_hash', models.CharField(blank=True, max_length=64)),
                    ('signed_at', models.DateTimeField(blank=True, null=True)),
                    ('key_id', models.CharField(blank=True, max_length=32)),
                    ('public_key', models.TextField(blank=True)),
                    ('signature', models.TextField(blank=True)),
                    ('status', models.CharField(choices=[('consistent', '一致'), ('inconsistent', '不一致（历史被改写）'), ('bad_signature', '签名无效'), ('unproven', '缺少一致性证明')], max_length=16)),
                    ('problem', models.CharField(blank=True, max_length=300)),
                    ('payload', models.JSONField(default=dict)),
                    ('received_at', models.DateTimeField(auto_now_add=True)),
                    ('previous', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='aggregation.witness')),
                ],
                options={
                    'verbose_name': '检查点见证',
                    'verbose_name_plural': '检查点见证',
                    'ordering': ['node_code', '-id'],
                    'db_table': 'access_witness',
                },
            ),
            ],
            database_operations=[],
        ),
    ]
