"""Holder codes at rest: plaintext `holder_code` → SM4 ciphertext + keyed HMAC-SM3 digest.

The data step encrypts every existing row with the deployment's `HOLDER_CODE_KEY` (and the
reverse step decrypts), so run it with the key the deployment will use.
"""

from django.db import migrations, models


def encrypt_codes(apps, schema_editor):
    from shared.core.holder_codes import holder_code_digest, holder_code_encrypt

    for name in ("License", "LicenseVersion"):
        model = apps.get_model("licenses", name)
        for row in model.objects.only("pk", "holder_code").iterator(chunk_size=1000):
            model.objects.filter(pk=row.pk).update(
                holder_code_enc=holder_code_encrypt(row.holder_code),
                holder_code_digest=holder_code_digest(row.holder_code),
            )


def decrypt_codes(apps, schema_editor):
    from shared.core.holder_codes import holder_code_decrypt

    for name in ("License", "LicenseVersion"):
        model = apps.get_model("licenses", name)
        for row in model.objects.only("pk", "holder_code_enc").iterator(chunk_size=1000):
            model.objects.filter(pk=row.pk).update(
                holder_code=holder_code_decrypt(row.holder_code_enc)
            )


class Migration(migrations.Migration):
    dependencies = [("licenses", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="license",
            name="holder_code_enc",
            field=models.BinaryField(null=True, verbose_name="持证主体代码（密文）"),
        ),
        migrations.AddField(
            model_name="license",
            name="holder_code_digest",
            field=models.CharField(default="", max_length=64, verbose_name="持证主体代码摘要"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="licenseversion",
            name="holder_code_enc",
            field=models.BinaryField(null=True),
        ),
        migrations.AddField(
            model_name="licenseversion",
            name="holder_code_digest",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(encrypt_codes, decrypt_codes, elidable=False),
        migrations.RemoveIndex(model_name="license", name="licenses_li_holder__8290a5_idx"),
        migrations.RemoveField(model_name="license", name="holder_code"),
        migrations.RemoveField(model_name="licenseversion", name="holder_code"),
        migrations.AlterField(
            model_name="license",
            name="holder_code_enc",
            field=models.BinaryField(verbose_name="持证主体代码（密文）"),
        ),
        migrations.AlterField(
            model_name="licenseversion",
            name="holder_code_enc",
            field=models.BinaryField(),
        ),
        migrations.AddIndex(
            model_name="license",
            index=models.Index(
                fields=["holder_code_digest", "holder_code_type"], name="licenses_holder_digest_idx"
            ),
        ),
    ]
